package config

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// limited wraps f so that its result may not exceed MaxValueSize: functions
// whose result can be much larger than their arguments are refused before
// they build it (estimators), every other result is measured after.
func limited(name string, f function.Function) function.Function {
	estimate := estimators[name]
	what := "the result of " + name + "()"
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type:        f.ReturnTypeForValues,
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if estimate != nil {
				if n := estimate(args); n > MaxValueSize {
					return cty.NilVal, &SizeError{What: what, Size: n, Limit: MaxValueSize}
				}
			}
			v, err := f.Call(args)
			if err != nil {
				return v, err
			}
			if err := checkValueSize(what, v); err != nil {
				return cty.NilVal, err
			}
			return v, nil
		},
	})
}

// str returns a known string argument, or "" and false.
func str(v cty.Value) (string, bool) {
	v, _ = v.Unmark()
	if !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// num returns a known whole-number argument, or 0 and false.
func num(v cty.Value) (int64, bool) {
	v, _ = v.Unmark()
	if !v.IsKnown() || v.IsNull() || v.Type() != cty.Number {
		return 0, false
	}
	n, acc := v.AsBigFloat().Int64()
	if acc != 0 && n == 0 {
		return 0, false
	}
	return n, true
}

// estimators bound the size of a result from the arguments, for the
// functions whose result can be far larger than what they are given. Each
// returns an upper bound (or a good estimate) in valueSize's units.
var estimators = map[string]func(args []cty.Value) int{
	"join": func(args []cty.Value) int {
		sep, _ := str(args[0])
		n, total := 0, 0
		for _, l := range args[1:] {
			total += valueSize(l, MaxValueSize)
			if l, _ := l.Unmark(); l.IsKnown() && !l.IsNull() && l.CanIterateElements() {
				n += l.LengthInt()
			}
		}
		return total + n*len(sep)
	},
	"replace":       estimateReplace(false),
	"regex_replace": estimateReplace(true),
	"format":        estimateFormat,
	"formatlist": func(args []cty.Value) int {
		rows := 1
		for _, a := range args[1:] {
			if a, _ := a.Unmark(); a.IsKnown() && !a.IsNull() && a.CanIterateElements() {
				rows = max(rows, a.LengthInt())
			}
		}
		return rows*(elementCost+estimateFormat(args[:1])) + estimateFormat(args)
	},
	"indent": func(args []cty.Value) int {
		spaces, _ := num(args[0])
		s, _ := str(args[1])
		return len(s) + int(min(max(spaces, 0), MaxValueSize+1))*(strings.Count(s, "\n")+1)
	},
	"split": func(args []cty.Value) int {
		sep, _ := str(args[0])
		s, _ := str(args[1])
		parts := strings.Count(s, sep) + 1
		if sep == "" {
			parts = utf8.RuneCountInString(s)
		}
		return len(s) + parts*elementCost
	},
	"jsondecode": estimateDecode(",:[{"),
	"csvdecode":  estimateDecode(",\n"),
}

// estimateReplace bounds replace(str, substr, replacement) (regex only
// when substr is /slashed/) and regex_replace(str, pattern, replacement):
// the number of matches, counted without building them, times the
// replacement.
func estimateReplace(alwaysRegex bool) func(args []cty.Value) int {
	return func(args []cty.Value) int {
		s, ok1 := str(args[0])
		pat, ok2 := str(args[1])
		repl, ok3 := str(args[2])
		if !ok1 || !ok2 || !ok3 || len(s)+(utf8.RuneCountInString(s)+1)*len(repl) <= MaxValueSize {
			return 0 // even a match at every position stays within the limit
		}
		slashed := len(pat) > 1 && pat[0] == '/' && pat[len(pat)-1] == '/'
		var re *regexp.Regexp
		switch {
		case alwaysRegex:
			re, _ = regexp.Compile(pat)
		case slashed:
			re, _ = regexp.Compile(pat[1 : len(pat)-1])
		case pat == "":
			return len(s) + (utf8.RuneCountInString(s)+1)*len(repl)
		default:
			return len(s) + strings.Count(s, pat)*len(repl)
		}
		if re == nil {
			return 0 // the function reports the bad pattern itself
		}
		if lit, complete := re.LiteralPrefix(); complete && lit != "" {
			return len(s) + strings.Count(s, lit)*len(repl)
		}
		matches := 0
		for i := 0; i <= len(s) && len(s)+matches*len(repl) <= MaxValueSize; matches++ {
			loc := re.FindStringIndex(s[i:])
			if loc == nil {
				break
			}
			i += max(loc[1], 1)
		}
		return len(s) + matches*len(repl)
	}
}

// estimateFormat bounds format(spec, args...): the spec, the arguments and
// every width or precision written in the spec (%999999999s).
func estimateFormat(args []cty.Value) int {
	spec, _ := str(args[0])
	total := len(spec)
	for _, a := range args[1:] {
		total += valueSize(a, MaxValueSize)
	}
	n := 0
	for i := 0; i < len(spec); i++ {
		c := spec[i]
		if c >= '0' && c <= '9' && n <= MaxValueSize {
			n = n*10 + int(c-'0')
			continue
		}
		total += n
		n = 0
	}
	return total + n
}

// estimateDecode counts the characters that start an element of a decoded
// document: each becomes a value of elementCost or more.
func estimateDecode(starts string) func(args []cty.Value) int {
	return func(args []cty.Value) int {
		s, _ := str(args[0])
		n := 0
		for i := 0; i < len(s); i++ {
			if strings.IndexByte(starts, s[i]) >= 0 {
				n++
			}
		}
		return len(s) + n*elementCost
	}
}
