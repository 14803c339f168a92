package config

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// ParseDuration parses a duration string from a value (Go syntax, "90s",
// "1h30m"), with a diagnostic on rng when it is malformed, null, unknown or
// below min. Numbers are not durations: 5 is rejected, "5s" is accepted.
// v may carry marks (a value derived from a sensitive variable); the
// diagnostics then never quote it.
func ParseDuration(v cty.Value, rng hcl.Range, min time.Duration) (time.Duration, hcl.Diagnostics) {
	v, marks := v.UnmarkDeep()
	sensitive := len(marks) > 0
	bad := func(detail string) (time.Duration, hcl.Diagnostics) {
		return 0, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid duration",
			Detail:   detail,
			Subject:  rng.Ptr(),
		}}
	}
	if v.IsNull() {
		return bad("A duration is required here, such as \"30s\" or \"1h30m\"; the value is null.")
	}
	if !v.IsKnown() {
		return bad("The duration is not known yet.")
	}
	if v.Type() == cty.Number && sensitive {
		return bad("This sensitive value is a number, and a number is not a duration: write a string with a unit, such as \"30s\".")
	}
	if v.Type() == cty.Number {
		return bad(fmt.Sprintf("The number %s is not a duration: write it as a string with a unit, such as \"%ss\".",
			v.AsBigFloat().Text('f', -1), v.AsBigFloat().Text('f', -1)))
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		return bad(fmt.Sprintf("A duration must be a string such as \"30s\" or \"1h30m\": %s.", errText(err)))
	}
	d, err := time.ParseDuration(s.AsString())
	if err != nil && sensitive {
		return bad("This sensitive value is not a valid duration: use Go's syntax, such as \"90s\", \"10m\" or \"1h30m\".")
	}
	if err != nil {
		return bad(fmt.Sprintf("%q is not a valid duration: use Go's syntax, such as \"90s\", \"10m\" or \"1h30m\".",
			s.AsString()))
	}
	if d < min {
		detail := fmt.Sprintf("The duration %s is shorter than the minimum of %s allowed here.", d, min)
		if sensitive {
			detail = fmt.Sprintf("This sensitive duration is shorter than the minimum of %s allowed here.", min)
		}
		return 0, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Duration too short",
			Detail:   detail,
			Subject:  rng.Ptr(),
		}}
	}
	return d, nil
}
