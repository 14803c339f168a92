package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcled"
)

// diagnostics prints diags on stderr with snippets from files (may be nil),
// in colour when env.colour allows it.
func (e *env) diagnostics(files map[string]*hcl.File, diags hcl.Diagnostics) {
	writeDiagnostics(e.stderr, files, diags, e.colour())
}

// writeDiagnostics prints diags to w in HCL's text form with source snippets
// taken from files, in colour when color is set. files may be nil (no
// snippets). Write errors are ignored: diagnostics go to stderr, and there is
// nowhere else to report them.
func writeDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, color bool) {
	if len(diags) == 0 {
		return
	}
	files = safeSources(files)
	tw := hcl.NewDiagnosticTextWriter(w, files, 78, color)
	bare := hcl.NewDiagnosticTextWriter(w, nil, 78, color)
	for _, d := range diags {
		// The text comes from workflows (maybe a pull request's) and what
		// they read, file names included: no control character of theirs
		// reaches a terminal.
		safe := *d
		safe.Summary, safe.Detail = safeText(d.Summary), safeLines(d.Detail)
		safe.Subject, safe.Context = safeRange(d.Subject), safeRange(d.Context)
		if snippetTooLong(files, safe.Subject) {
			_ = bare.WriteDiagnostic(&safe)
			continue
		}
		_ = tw.WriteDiagnostic(&safe)
	}
}

// safeRange returns rng with its file name escaped (safeText), or rng
// itself when there is nothing to escape.
func safeRange(rng *hcl.Range) *hcl.Range {
	if rng == nil || safeText(rng.Filename) == rng.Filename {
		return rng
	}
	r := *rng
	r.Filename = safeText(rng.Filename)
	return &r
}

// safeSources returns files, keyed by their escaped names (safeRange), with
// every character of their sources that
// safeLines would escape (C0 controls but tab, newline and a CR before a
// newline; DEL; C1; format characters such as bidirectional overrides)
// replaced by as many '?' as it has bytes, so that byte offsets still match
// the diagnostics' ranges. HCL's snippets copy source lines byte for byte:
// a comment holding ESC ] 0 ; … BEL retitled the terminal of whoever ran
// validate. Files without such characters are shared, not copied.
func safeSources(files map[string]*hcl.File) map[string]*hcl.File {
	var out map[string]*hcl.File
	for name, f := range files {
		if f == nil || nextControl(f.Bytes, 0) < 0 && safeText(name) == name {
			continue
		}
		if out == nil {
			out = make(map[string]*hcl.File, len(files))
			for n, g := range files {
				out[n] = g
			}
		}
		g := *f
		if nextControl(f.Bytes, 0) >= 0 {
			b := bytes.Clone(f.Bytes)
			for i := nextControl(b, 0); i >= 0; i = nextControl(b, i) {
				_, n := utf8.DecodeRune(b[i:])
				for j := range n {
					b[i+j] = '?'
				}
			}
			g.Bytes = b
		}
		delete(out, name)
		out[safeText(name)] = &g
	}
	if out == nil {
		return files
	}
	return out
}

// nextControl returns the offset of the first character at or after from
// that safeSources replaces, or -1.
func nextControl(src []byte, from int) int {
	for i := from; i < len(src); {
		c := src[i]
		if c >= 0x20 && c < 0x7f || c == '\t' || c == '\n' || c == '\r' && i+1 < len(src) && src[i+1] == '\n' {
			i++
			continue
		}
		r, n := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && n == 1 || unsafeRune(r, true) {
			return i // a byte that is not UTF-8 may be an 8-bit control (0x9B: CSI)
		}
		i += n
	}
	return -1
}

// maxSnippetLine is the longest source line shown in a snippet; a hostile
// file can hold megabytes on one line.
const maxSnippetLine = 1000

// snippetTooLong reports whether the source lines under rng are too long to
// print.
func snippetTooLong(files map[string]*hcl.File, rng *hcl.Range) bool {
	if rng == nil || files[rng.Filename] == nil {
		return false
	}
	src := files[rng.Filename].Bytes
	start, end := min(rng.Start.Byte, len(src)), min(max(rng.End.Byte, rng.Start.Byte), len(src))
	if end-start > maxSnippetLine {
		return true
	}
	lineStart := bytes.LastIndexByte(src[:start], '\n') + 1
	lineEnd := bytes.IndexByte(src[end:], '\n')
	if lineEnd < 0 {
		lineEnd = len(src) - end
	}
	return end+lineEnd-lineStart > maxSnippetLine
}

// jsonDiagnostic is one diagnostic in Terraform's JSON shape.
type jsonDiagnostic struct {
	Severity string       `json:"severity"`
	Summary  string       `json:"summary"`
	Detail   string       `json:"detail"`
	Range    *jsonRange   `json:"range,omitempty"`
	Snippet  *jsonSnippet `json:"snippet,omitempty"`
}

type jsonRange struct {
	Filename string  `json:"filename"`
	Start    jsonPos `json:"start"`
	End      jsonPos `json:"end"`
}

type jsonPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

type jsonSnippet struct {
	Context              *string `json:"context"`
	Code                 string  `json:"code"`
	StartLine            int     `json:"start_line"`
	HighlightStartOffset int     `json:"highlight_start_offset"`
	HighlightEndOffset   int     `json:"highlight_end_offset"`
}

// jsonValidation is the document validate -json prints.
type jsonValidation struct {
	FormatVersion string           `json:"format_version"`
	Valid         bool             `json:"valid"`
	ErrorCount    int              `json:"error_count"`
	WarningCount  int              `json:"warning_count"`
	Diagnostics   []jsonDiagnostic `json:"diagnostics"`
}

// newJSONDiagnostic converts d, taking its snippet from files the way
// Terraform's views/json package does.
func newJSONDiagnostic(d *hcl.Diagnostic, files map[string]*hcl.File) jsonDiagnostic {
	jd := jsonDiagnostic{Severity: "error", Summary: d.Summary, Detail: d.Detail}
	if d.Severity == hcl.DiagWarning {
		jd.Severity = "warning"
	}
	if d.Subject == nil {
		return jd
	}
	hr := *d.Subject
	if hr.End == (hcl.Pos{}) {
		hr.End = hr.Start
	}
	jd.Range = &jsonRange{
		Filename: hr.Filename,
		Start:    jsonPos{hr.Start.Line, hr.Start.Column, hr.Start.Byte},
		End:      jsonPos{hr.End.Line, hr.End.Column, hr.End.Byte},
	}
	f := files[hr.Filename]
	if f == nil || f.Bytes == nil {
		return jd
	}
	sr := hr
	if d.Context != nil {
		sr = hcl.RangeOver(*d.Context, hr)
	}
	if !snippetTooLong(files, &hr) {
		jd.Snippet = snippet(f, hr, sr)
	}
	return jd
}

func snippet(f *hcl.File, hr, sr hcl.Range) *jsonSnippet {
	if sr.Empty() {
		sr.End.Byte++
		sr.End.Column++
	}
	s := &jsonSnippet{StartLine: sr.Start.Line}
	if ctx := hcled.ContextString(f, hr.Start.Byte-1); ctx != "" {
		s.Context = &ctx
	}
	var code strings.Builder
	codeStart := -1
	sc := hcl.NewRangeScanner(f.Bytes, hr.Filename, bufio.ScanLines)
	for sc.Scan() {
		lr := sc.Range()
		if lr.Overlaps(sr) || (lr.Start.Line == sr.Start.Line) {
			if codeStart < 0 {
				codeStart = lr.Start.Byte
			}
			code.Write(lr.SliceBytes(f.Bytes))
			code.WriteByte('\n')
		}
	}
	s.Code = strings.TrimSuffix(code.String(), "\n")
	if codeStart < 0 {
		codeStart = 0
	}
	clamp := func(n int) int { return max(0, min(n, len(s.Code))) }
	s.HighlightStartOffset = clamp(hr.Start.Byte - codeStart)
	s.HighlightEndOffset = clamp(hr.End.Byte - codeStart)
	return s
}

// writeJSONValidation prints the validate -json document for diags.
func writeJSONValidation(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) error {
	doc := jsonValidation{FormatVersion: "1.0", Diagnostics: []jsonDiagnostic{}}
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning {
			doc.WarningCount++
		} else {
			doc.ErrorCount++
		}
		doc.Diagnostics = append(doc.Diagnostics, newJSONDiagnostic(d, files))
	}
	doc.Valid = doc.ErrorCount == 0
	enc := json.NewEncoder(safeJSONWriter{w})
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
