package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// This file holds what each attribute Type means: the cty type its
// expressions convert to, the one check of its value (run by validate on
// unknown values and by the runner on known ones), its Go value and how it
// is shown.

// SensitiveMark marks values derived from sensitive variables. Any marked
// value is treated as sensitive, whoever marked it.
const SensitiveMark = "sensitive"

// CtyType is the type an expression of the attribute converts to before its
// value is checked; cty.DynamicPseudoType when the check converts itself.
func (a *Attribute) CtyType() cty.Type {
	switch a.Type {
	case TypeString, TypeShell, TypeKey, TypeEnum, TypeText:
		return cty.String
	case TypeCount:
		return cty.Number
	case TypeBool, TypeFlag:
		return cty.Bool
	case TypeArgv:
		return cty.List(cty.String)
	case TypeStringMap:
		return cty.Map(cty.String)
	}
	return cty.DynamicPseudoType
}

// Label names the attribute in messages: "timeout" in a step, "lock key"
// in a lock block.
func (a *Attribute) Label() string {
	if a.block == nil || a.block == StepSchema {
		return a.Name
	}
	return a.block.What + " " + a.Name
}

// Check checks v, the attribute's value converted to CtyType (unknown when
// validate checks it, marked when it derives from a sensitive value), and
// reports problems on rng. A valid known value can be turned into its Go
// value with GoValue.
func (a *Attribute) Check(v cty.Value, rng hcl.Range) hcl.Diagnostics {
	sensitive := v.ContainsMarked()
	if sensitive {
		v, _ = v.UnmarkDeep()
	}
	switch a.Type {
	case TypeKey:
		return a.checkKey(v, sensitive, rng)
	case TypeDuration:
		return a.checkDuration(v, sensitive, rng)
	case TypeCount:
		return a.checkCount(v, rng)
	case TypeEnum:
		return a.checkEnum(v, rng)
	case TypeArgv:
		return a.checkArgv(v, rng)
	case TypeForEach:
		return checkForEach(v, sensitive, rng)
	case TypeAny:
		return nil
	}
	if v.IsKnown() && v.IsNull() {
		return diag(rng, "Null value", "The %s must not be null.", a.Label())
	}
	return nil
}

func diag(rng hcl.Range, summary, format string, args ...any) hcl.Diagnostics {
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: rng.Ptr()}}
}

func (a *Attribute) checkKey(v cty.Value, sensitive bool, rng hcl.Range) hcl.Diagnostics {
	what := a.block.What
	if sensitive {
		return diag(rng, "Sensitive value in "+what+" key",
			"This %s key is derived from a sensitive value. Keys are stored in clear by the backend and shown by "+
				"plan, lock list, once list and every waiting line, so lockstep refuses sensitive values in keys "+
				"rather than leak them; build the key from a value that is not secret.", what)
	}
	if !v.IsKnown() {
		return nil
	}
	if v.IsNull() || v.AsString() == "" {
		return diag(rng, "Empty "+what+" key", "A %s key names what is coordinated, so it must be a non-empty string.", what)
	}
	if i := strings.IndexByte(v.AsString(), 0); i >= 0 {
		return diag(rng, "Invalid "+what+" key",
			"The %s key contains a NUL byte (at byte %d). A key is text that every backend stores and every "+
				"command shows, so it may not contain NUL.", what, i)
	}
	return nil
}

// checkDuration checks a duration of at least a.Min when its value is
// known, and that it is a string when it is not.
func (a *Attribute) checkDuration(v cty.Value, sensitive bool, rng hcl.Range) hcl.Diagnostics {
	if v.IsKnown() {
		if sensitive {
			v = v.Mark(SensitiveMark) // ParseDuration then never quotes it
		}
		_, diags := ParseDuration(v, rng, a.minDuration())
		return diags
	}
	if v.Type() == cty.Number {
		// ParseDuration would only say "not known yet" of an unknown number
		// (var.n with type = number); the mistake is the type.
		return diag(rng, "Invalid duration",
			"This value is a number, and a number is not a duration: write a string with a unit, such as \"30s\".")
	}
	if _, err := convert.Convert(cty.UnknownVal(v.Type()), cty.String); err != nil {
		return diag(rng, "Invalid duration", "A duration must be a string such as \"30s\" or \"1h30m\": %s.", errText(err))
	}
	return nil
}

func (a *Attribute) minDuration() time.Duration {
	if d, ok := a.Min.(time.Duration); ok {
		return d
	}
	return 0
}

func (a *Attribute) minCount() int {
	if n, ok := a.Min.(int); ok {
		return n
	}
	return 1
}

// checkCount checks a whole number from Min to MaxCount.
func (a *Attribute) checkCount(v cty.Value, rng hcl.Range) hcl.Diagnostics {
	if !v.IsKnown() {
		return nil
	}
	summary := "Invalid " + a.Label()
	why := a.Why
	if why == "" {
		why = "The " + a.Label() + " counts"
	}
	lo := a.minCount()
	if v.IsNull() {
		return diag(rng, summary, "%s, so it must be a whole number from %d to %d, not null.", why, lo, MaxCount)
	}
	bf := v.AsBigFloat()
	if n, _ := bf.Int64(); !bf.IsInt() || n < int64(lo) || n > MaxCount {
		return diag(rng, summary, "%s, so it must be a whole number from %d to %d; it is %s.", why, lo, MaxCount, bf.Text('g', 10))
	}
	return nil
}

func (a *Attribute) checkEnum(v cty.Value, rng hcl.Range) hcl.Diagnostics {
	if !v.IsKnown() {
		return nil
	}
	summary := fmt.Sprintf("Invalid %s value", a.Name)
	if v.IsNull() {
		return diag(rng, summary, "The %s argument must be %s, not null.", a.Name, oneOf(a.Values))
	}
	if s := v.AsString(); !contains(a.Values, s) {
		return diag(rng, summary, "The %s argument must be %s; %q is none of them.%s", a.Name, oneOf(a.Values), s,
			didYouMean(s, a.Values))
	}
	return nil
}

// oneOf renders values as `"a", "b" or "c"`.
func oneOf(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = strconv.Quote(v)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

func (a *Attribute) checkArgv(v cty.Value, rng hcl.Range) hcl.Diagnostics {
	if !v.IsKnown() {
		return nil
	}
	if v.IsNull() || v.LengthInt() == 0 {
		return diag(rng, "Empty command", "A command must name at least the program to run.")
	}
	for it := v.ElementIterator(); it.Next(); {
		if _, el := it.Element(); el.IsKnown() && el.IsNull() {
			return diag(rng, "Null value", "The %s must not contain null.", a.Label())
		}
	}
	return nil
}

// checkForEach checks a for_each value: a map or a set of strings, not
// null, never sensitive (instance keys are shown everywhere).
func checkForEach(v cty.Value, sensitive bool, rng hcl.Range) hcl.Diagnostics {
	ty := v.Type()
	valid := ty == cty.DynamicPseudoType || ty.IsMapType() || ty.IsObjectType() ||
		(ty.IsSetType() && (ty.ElementType() == cty.String || ty.ElementType() == cty.DynamicPseudoType))
	switch {
	case !valid:
		return diag(rng, "Invalid for_each argument",
			"The for_each argument must be a map or a set of strings, but this value is %s. "+
				"Use toset() to make a set from a list of strings.", friendly(ty))
	case sensitive:
		return diag(rng, "Invalid for_each argument",
			"The for_each value is derived from a sensitive value; instance keys are shown everywhere, so it cannot be used.")
	case v.IsKnown() && v.IsNull():
		return diag(rng, "Invalid for_each argument", "The for_each argument must not be null.")
	}
	return nil
}

// GoValue converts a known value that passed Check to the attribute's Go
// value: string (TypeString, TypeKey, TypeEnum), time.Duration, int, bool,
// []string (TypeArgv), map[string]string (TypeStringMap), else cty.Value.
// Marks are dropped; the caller keeps track of sensitivity.
func (a *Attribute) GoValue(v cty.Value) any {
	if v.ContainsMarked() {
		v, _ = v.UnmarkDeep()
	}
	switch a.Type {
	case TypeString, TypeKey, TypeEnum, TypeShell, TypeText:
		return v.AsString()
	case TypeDuration:
		d, _ := ParseDuration(v, hcl.Range{}, 0)
		return d
	case TypeCount:
		n, _ := v.AsBigFloat().Int64()
		return int(n)
	case TypeBool, TypeFlag:
		return v.True()
	case TypeArgv:
		out := make([]string, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			_, el := it.Element()
			out = append(out, el.AsString())
		}
		return out
	case TypeStringMap:
		out := make(map[string]string, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			k, el := it.Element()
			if !el.IsNull() {
				out[k.AsString()] = el.AsString()
			}
		}
		return out
	}
	return v
}

// Show renders x, a Go value of the attribute (its Default, typically), the
// way plan shows values: strings and durations quoted, numbers bare, nil as
// "(Absent)".
func (a *Attribute) Show(x any) string {
	switch v := x.(type) {
	case nil:
		if a.Absent != "" {
			return "(" + a.Absent + ")"
		}
		return "null"
	case time.Duration:
		return strconv.Quote(FormatDuration(v))
	case string:
		return strconv.Quote(v)
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(x)
}

// ShowDefault renders the value an absent attribute takes.
func (a *Attribute) ShowDefault() string { return a.Show(a.Default) }

// FormatDuration writes d the way a workflow would: "30s", "1m", "1h30m".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// AttrGetter returns an attribute's value and range for a Block.Rule:
// cty.NilVal and nil when the attribute is absent or its value failed its
// own check.
type AttrGetter func(name string) (cty.Value, *hcl.Range)

// sharedLimitRule: semaphores are exclusive only, so a shared lock may not
// set a limit above 1.
func sharedLimitRule(get AttrGetter) hcl.Diagnostics {
	mode, _ := get("mode")
	limit, rng := get("limit")
	if mode == cty.NilVal || limit == cty.NilVal {
		return nil
	}
	mode, _ = mode.UnmarkDeep()
	limit, _ = limit.UnmarkDeep()
	if !mode.IsKnown() || mode.IsNull() || mode.AsString() != "shared" || !limit.IsKnown() || limit.IsNull() {
		return nil
	}
	if n, _ := limit.AsBigFloat().Int64(); n <= 1 {
		return nil
	}
	return diag(*rng, "Shared lock with a limit",
		"A limit admits that many exclusive holders at once (a semaphore); a shared lock already admits any "+
			"number of shared holders, so it cannot have a limit above 1. Remove the limit or use mode = \"exclusive\".")
}
