package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/lockstep-dev/lockstep/config"
)

// PreviewValue is a value as plan shows it: known, sensitive, or waiting on
// earlier steps.
type PreviewValue struct {
	Text      string   // display form (JSON) when known and not sensitive
	Known     bool     // the value is known before the run
	Sensitive bool     // derived from a sensitive value; Text is the placeholder
	After     []string // steps whose results it waits on, when not known
	Raw       string   // the plain string when known, not sensitive and a string
}

// String renders the value for people.
func (v PreviewValue) String() string {
	switch {
	case v.Sensitive:
		return SensitivePlaceholder
	case v.Known:
		return v.Text
	case len(v.After) > 0:
		return "(known after " + strings.Join(prefixSteps(v.After), ", ") + ")"
	}
	return "(known at run time)"
}

func prefixSteps(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "step." + n
	}
	return out
}

// PreviewLock is a lock block as planned.
type PreviewLock struct {
	Label                       string
	Key                         PreviewValue
	TTL, Timeout, OnBusy, Limit PreviewValue
}

// PreviewCheck is a check block as planned: the condition's source text and
// its value now (it is evaluated again when the step runs), and the command.
type PreviewCheck struct {
	Condition       *PreviewValue
	ConditionSource string
	Command         *PreviewValue
}

// PreviewInstance is one step instance as plan shows it.
type PreviewInstance struct {
	Address     string
	Step        string
	Description string
	DependsOn   []string // step names
	// ForEachAfter is set when the for_each value waits on earlier steps; the
	// address is then step.NAME[*], standing for every instance.
	ForEachAfter []string
	Command      *PreviewValue // argv (list) or, with Shell, the script
	Shell        bool
	Env          *PreviewValue
	Dir          *PreviewValue
	Timeout      *PreviewValue
	Locks        []PreviewLock
	OnceKey      *PreviewValue
	OnceTTL      *PreviewValue
	Checks       []PreviewCheck
	Retry        *PreviewValue // "N attempts, delay D"
	Diags        hcl.Diagnostics
}

// Preview evaluates every planned step instance against scope (BaseScope:
// steps unknown), in execution order, without running anything. for_each
// values that are known expand into their instances.
func (p *Plan) Preview(scope *config.Scope) []*PreviewInstance {
	var out []*PreviewInstance
	base := scope
	for _, name := range p.Order {
		st := p.Workflow.Steps[name]
		scope := scopeFor(base, p.Deps[name])
		if st.ForEach == nil {
			out = append(out, previewInstance(p.Workflow.Files, scope, st, Address(name, "", false), p.Deps[name]))
			continue
		}
		items, known, diags := forEachItems(scope, st.ForEach)
		if !known {
			pi := previewInstance(p.Workflow.Files, scope, st, "step."+name+"[*]", p.Deps[name])
			pi.ForEachAfter = config.StepRefs(st.ForEach)
			out = append(out, pi)
			continue
		}
		if diags.HasErrors() {
			out = append(out, &PreviewInstance{Address: Address(name, "", false), Step: name, Diags: diags})
			continue
		}
		for _, k := range sortedKeys(items) {
			if only := p.Keys[name]; only != nil && !only[k] {
				continue
			}
			sc := *scope
			sc.Each = &config.EachValue{Key: cty.StringVal(k), Value: items[k]}
			out = append(out, previewInstance(p.Workflow.Files, &sc, st, Address(name, k, true), p.Deps[name]))
		}
	}
	return out
}

func previewInstance(files map[string]*hcl.File, scope *config.Scope, st *config.Step, addr string, deps []string) *PreviewInstance {
	pv := &previewer{scope: scope}
	pi := &PreviewInstance{Address: addr, Step: st.Name, Description: st.Description, DependsOn: deps}
	if st.ForEach != nil && scope.Each == nil {
		// Instances unknown: evaluate with each unknown so keys show as such.
		sc := *scope
		sc.Each = &config.EachValue{Key: cty.UnknownVal(cty.String), Value: cty.DynamicVal}
		pv.scope = &sc
	}
	if st.Command != nil {
		pi.Command = pv.value(st.Command, cty.List(cty.String))
	} else if st.Shell != nil {
		pi.Command, pi.Shell = pv.value(st.Shell, cty.String), true
	}
	pi.Env = pv.value(st.Env, cty.Map(cty.String))
	pi.Dir = pv.value(st.Dir, cty.String)
	pi.Timeout = pv.value(st.Timeout, cty.String)
	for _, l := range st.Locks {
		pl := PreviewLock{Label: l.Label, Key: *pv.value(l.Key, cty.String)}
		pl.TTL = pv.orDefault(l.TTL, cty.String, `"30s"`)
		pl.Timeout = pv.orDefault(l.Timeout, cty.String, "(no limit)")
		pl.OnBusy = pv.orDefault(l.OnBusy, cty.String, `"wait"`)
		pl.Limit = pv.orDefault(l.Limit, cty.Number, "1")
		pi.Locks = append(pi.Locks, pl)
	}
	if st.Once != nil {
		pi.OnceKey = pv.value(st.Once.Key, cty.String)
		pi.OnceTTL = pv.value(st.Once.TTL, cty.String)
	}
	for _, c := range st.Checks {
		pc := PreviewCheck{Condition: pv.value(c.Condition, cty.Bool), Command: pv.value(c.Command, cty.List(cty.String))}
		if c.Condition != nil {
			pc.ConditionSource = sourceText(files, c.Condition.Range())
		}
		pi.Checks = append(pi.Checks, pc)
	}
	if st.Retry != nil {
		a := pv.orDefault(st.Retry.Attempts, cty.Number, "1")
		d := pv.orDefault(st.Retry.Delay, cty.String, `"0s"`)
		pi.Retry = &PreviewValue{Known: true, Text: fmt.Sprintf("%s attempts, delay %s", a, d)}
	}
	pi.Diags = pv.diags
	return pi
}

type previewer struct {
	scope *config.Scope
	diags hcl.Diagnostics
}

// value evaluates expr for display; nil when expr is nil.
func (pv *previewer) value(expr hcl.Expression, want cty.Type) *PreviewValue {
	if expr == nil {
		return nil
	}
	v, diags := pv.scope.EvalExpr(expr, want)
	if diags.HasErrors() {
		pv.diags = append(pv.diags, diags...)
		return &PreviewValue{Text: "(invalid)", Known: true}
	}
	if v.ContainsMarked() {
		return &PreviewValue{Sensitive: true, Known: v.IsWhollyKnown(), Text: SensitivePlaceholder}
	}
	if !v.IsWhollyKnown() {
		return &PreviewValue{After: config.StepRefs(expr)}
	}
	out := &PreviewValue{Known: true, Text: "null"}
	if !v.IsNull() {
		out.Text = FormatValue(v)
		if v.Type() == cty.String {
			out.Raw = v.AsString()
		}
	}
	return out
}

func (pv *previewer) orDefault(expr hcl.Expression, want cty.Type, def string) PreviewValue {
	if v := pv.value(expr, want); v != nil {
		return *v
	}
	return PreviewValue{Known: true, Text: def}
}

// sourceText returns the source of rng, or its position when the file is
// not known.
func sourceText(files map[string]*hcl.File, rng hcl.Range) string {
	if f := files[rng.Filename]; f != nil && rng.End.Byte <= len(f.Bytes) && rng.Start.Byte <= rng.End.Byte {
		return string(f.Bytes[rng.Start.Byte:rng.End.Byte])
	}
	return rng.String()
}

// FormatValue renders a known, unmarked value in JSON form for people (no
// HTML escaping); "(not printable)" when it cannot be.
func FormatValue(v cty.Value) string {
	if v.Type() == cty.String && v.IsKnown() && !v.IsNull() && !v.IsMarked() {
		return jsonString(v.AsString()) // the common case, without a JSON round trip
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
