package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// FormatValue renders a known, unmarked value in JSON form for people (no
// HTML escaping); "(not printable)" when it cannot be.
func FormatValue(v cty.Value) string {
	if v.Type() == cty.String && v.IsKnown() && !v.IsNull() && !v.IsMarked() {
		return jsonString(v.AsString()) // the common case, without a JSON round trip
	}
	if v.IsWhollyKnown() && !v.ContainsMarked() {
		var b strings.Builder
		writeJSON(&b, v)
		return b.String()
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return "(not printable)"
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return string(b)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		return string(b)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// jsonString quotes s as a JSON string, leaving <, > and & as they are.
func jsonString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// writeJSON writes a wholly known, unmarked value as cty's JSON encoding
// would, without HTML escaping: object attributes and map keys in lexical
// order (cty iterates them so), numbers in full.
func writeJSON(b *strings.Builder, v cty.Value) {
	ty := v.Type()
	switch {
	case v.IsNull():
		b.WriteString("null")
	case ty == cty.String:
		b.WriteString(jsonString(v.AsString()))
	case ty == cty.Number:
		bf := v.AsBigFloat()
		if n, acc := bf.Int64(); acc == big.Exact {
			b.WriteString(strconv.FormatInt(n, 10)) // Text('f', -1) is slow at cty's precision
		} else {
			b.WriteString(bf.Text('f', -1))
		}
	case ty == cty.Bool:
		fmt.Fprint(b, v.True())
	case ty.IsMapType() || ty.IsObjectType():
		b.WriteByte('{')
		for it, first := v.ElementIterator(), true; it.Next(); first = false {
			k, el := it.Element()
			if !first {
				b.WriteByte(',')
			}
			b.WriteString(jsonString(k.AsString()))
			b.WriteByte(':')
			writeJSON(b, el)
		}
		b.WriteByte('}')
	case v.CanIterateElements():
		b.WriteByte('[')
		for it, first := v.ElementIterator(), true; it.Next(); first = false {
			_, el := it.Element()
			if !first {
				b.WriteByte(',')
			}
			writeJSON(b, el)
		}
		b.WriteByte(']')
	default:
		b.WriteString("null")
	}
}
