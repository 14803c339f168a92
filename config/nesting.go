package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// MaxNesting is the deepest bracket nesting Load accepts. HCL's parsers and
// evaluator recurse once per level, and a deep enough file overflows the Go
// stack, which no recover can catch; real workflows stay far below this.
const MaxNesting = 256

// MaxOperatorChain is the most operator characters Load accepts in one
// expression statement. HCL parses a chain of operators (!!!!x, 1+1+1+…)
// recursively too, so a long enough chain overflows the stack like deep
// nesting does.
const MaxOperatorChain = 20000

// checkNesting scans src before any parser sees it, for (, [ and { nested
// deeper than MaxNesting and for more than MaxOperatorChain operator
// characters in one statement (a statement ends at a comma, or at a newline
// outside parentheses and brackets). The scan is deliberately simple: it is
// linear and allocation-free, and it counts characters in strings and
// comments too, because skipping them would let a crafted string hide a bomb.
// It errs only on files no workflow resembles.
func checkNesting(src []byte, filename string) *hcl.Diagnostic {
	depth, parens, chain := 0, 0, 0
	line, col := 1, 1
	for i, b := range src {
		if b == '%' && i+1 < len(src) && src[i+1] == '{' {
			// Template directives nest without brackets: %{if}…%{endif}.
			switch directiveWord(src[i+2:]) {
			case "if", "for":
				depth++
			case "endif", "endfor":
				depth = max(0, depth-1)
			}
		}
		switch b {
		case '(', '[', '{':
			depth++
			if b != '{' {
				parens++
			}
			if depth > MaxNesting {
				return scanDiag(filename, line, col, i, "Nesting too deep", fmt.Sprintf(
					"Brackets, braces and parentheses are nested more than %d levels deep here; "+
						"lockstep refuses such files before parsing them.", MaxNesting))
			}
		case ')', ']', '}':
			depth = max(0, depth-1)
			if b != '}' {
				parens = max(0, parens-1)
			}
		case ',':
			chain = 0
		case '\n':
			line++
			col = 0
			if parens == 0 {
				chain = 0
			}
		case '!', '-', '+', '*', '/', '%', '&', '|', '<', '>', '=', '?':
			chain++
			if chain > MaxOperatorChain {
				return scanDiag(filename, line, col, i, "Expression too long", fmt.Sprintf(
					"This expression has more than %d operators; lockstep refuses such files before parsing them.",
					MaxOperatorChain))
			}
		}
		col++
	}
	return nil
}

// directiveWord returns the keyword that starts a template directive body,
// after an optional strip marker and spaces.
func directiveWord(b []byte) string {
	i := 0
	for i < len(b) && (b[i] == '~' || b[i] == ' ' || b[i] == '\t') {
		i++
	}
	j := i
	for j < len(b) && j-i < 6 && b[j] >= 'a' && b[j] <= 'z' {
		j++
	}
	return string(b[i:j])
}

func scanDiag(filename string, line, col, byteOff int, summary, detail string) *hcl.Diagnostic {
	pos := hcl.Pos{Line: line, Column: col, Byte: byteOff}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   detail,
		Subject:  &hcl.Range{Filename: filename, Start: pos, End: hcl.Pos{Line: line, Column: col + 1, Byte: byteOff + 1}},
	}
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
