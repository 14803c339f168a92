package config

import (
	"sort"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// blockNav gives a diagnostic writer the context of an offset ("in step
// \"deploy\"") from the top-level block headers alone, so that a loaded
// workflow need not keep the syntax trees of its bodies.
type blockNav struct {
	blocks []navBlock // by start offset
}

type navBlock struct {
	start, end int
	header     string
	def        hcl.Range
}

func newNav(body *hclsyntax.Body) *blockNav {
	n := &blockNav{blocks: make([]navBlock, 0, len(body.Blocks))}
	n.add(body)
	return n
}

// add records the blocks of body, which comes after those already added.
func (n *blockNav) add(body *hclsyntax.Body) {
	for _, b := range body.Blocks {
		h := b.Type
		for _, l := range b.Labels {
			h += " " + strconv.Quote(l)
		}
		rng := b.Range()
		n.blocks = append(n.blocks, navBlock{start: rng.Start.Byte, end: rng.End.Byte, header: h, def: b.DefRange()})
	}
	if !sort.SliceIsSorted(n.blocks, func(i, j int) bool { return n.blocks[i].start < n.blocks[j].start }) {
		sort.Slice(n.blocks, func(i, j int) bool { return n.blocks[i].start < n.blocks[j].start })
	}
}

func (n *blockNav) find(offset int) *navBlock {
	i := sort.Search(len(n.blocks), func(i int) bool { return n.blocks[i].end > offset })
	if i < len(n.blocks) && n.blocks[i].start <= offset {
		return &n.blocks[i]
	}
	return nil
}

// ContextString implements hcled's context: the header of the top-level
// block holding offset.
func (n *blockNav) ContextString(offset int) string {
	if b := n.find(offset); b != nil {
		return b.header
	}
	return ""
}

// ContextDefRange returns the definition range of that block.
func (n *blockNav) ContextDefRange(offset int) hcl.Range {
	if b := n.find(offset); b != nil {
		return b.def
	}
	return hcl.Range{}
}

// lighten drops the syntax tree of a parsed native file once its blocks are
// decoded, keeping its bytes and a navigation for diagnostics.
func lighten(f *hcl.File) {
	if body, ok := f.Body.(*hclsyntax.Body); ok {
		f.Nav = newNav(body)
		f.Body = nil
	}
}
