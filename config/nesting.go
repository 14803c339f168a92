package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// MaxNesting is the deepest bracket nesting Load accepts. HCL's parsers and
// evaluator recurse once per level, and a deep enough file overflows the Go
// stack, which no recover can catch; real workflows stay far below this.
const MaxNesting = 256

// checkNesting scans src for (, [ and { nesting deeper than MaxNesting before
// any parser sees it. The scan is deliberately simple and counts brackets in
// strings and comments too: it is linear, allocation-free and errs only on
// files with hundreds of unclosed brackets, which are not workflows.
func checkNesting(src []byte, filename string) *hcl.Diagnostic {
	depth := 0
	line, col := 1, 1
	for i, b := range src {
		switch b {
		case '(', '[', '{':
			depth++
			if depth > MaxNesting {
				pos := hcl.Pos{Line: line, Column: col, Byte: i}
				return &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Nesting too deep",
					Detail: fmt.Sprintf("Brackets, braces and parentheses are nested more than %d levels deep here; "+
						"lockstep refuses such files before parsing them.", MaxNesting),
					Subject: &hcl.Range{Filename: filename, Start: pos, End: hcl.Pos{Line: line, Column: col + 1, Byte: i + 1}},
				}
			}
		case ')', ']', '}':
			if depth > 0 {
				depth--
			}
		case '\n':
			line++
			col = 0
		}
		col++
	}
	return nil
}

// CheckSource applies Load's guards to one file's bytes without parsing
// them: the MaxFileSize cap and the MaxNesting pre-scan. Tools that hand a
// file to HCL themselves (fmt) call it first.
func CheckSource(src []byte, filename string) hcl.Diagnostics {
	if len(src) > MaxFileSize {
		return hcl.Diagnostics{tooLarge(filename, int64(len(src)))}
	}
	if d := checkNesting(src, filename); d != nil {
		return hcl.Diagnostics{d}
	}
	return nil
}
