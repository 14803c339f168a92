package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// EnvVarPrefix is the prefix of environment variables that set workflow
// variables: LOCKSTEP_VAR_name.
const EnvVarPrefix = "LOCKSTEP_VAR_"

// UnknownVariables maps every declared variable to an unknown value of its
// type, marked SensitiveMark when the variable is sensitive, for validation
// without inputs: what derives from a sensitive variable is then known to.
func (w *Workflow) UnknownVariables() map[string]cty.Value {
	out := make(map[string]cty.Value, len(w.Variables))
	for name, v := range w.Variables {
		out[name] = cty.UnknownVal(v.Type)
	}
	return w.MarkSensitive(out)
}

// MarkSensitive returns vals with the values of sensitive variables marked
// SensitiveMark, so that nothing derived from them is shown or used as a key.
func (w *Workflow) MarkSensitive(vals map[string]cty.Value) map[string]cty.Value {
	out := make(map[string]cty.Value, len(vals))
	for name, v := range vals {
		if decl := w.Variables[name]; decl != nil && decl.Sensitive {
			v = v.Mark(SensitiveMark)
		}
		out[name] = v
	}
	return out
}

// rawValue is one input for a variable before it is parsed.
type rawValue struct {
	raw   string    // from the environment or -var: parsed by type
	value cty.Value // from a -var-file: already a value
	rng   hcl.Range // where it came from, for diagnostics
	from  string    // "environment variable LOCKSTEP_VAR_x", "-var option", ...
}

// ResolveVariables parses the inputs against the declared variables (typed
// parsing of non-string values, as Terraform does), applies defaults, and
// evaluates validation blocks. Values come from, later winning: the
// default, the environment (LOCKSTEP_VAR_name), the variable files of the
// workflow directory (AutoVariableFiles: lockstep.vars, then *.auto.vars in
// lexical order), then -var-file and -var in argument order. An undeclared
// -var or -var-file entry and a missing required variable are errors naming
// the variable; an undeclared entry of an automatic file is a warning. The
// result maps every declared variable to a known value. Variable files are
// read through the workflow's file system; -var-file names are relative to
// the current directory. Every file read is added to w.Files, for snippets.
// With in.Partial (validate), missing values and validations are not
// checked.
func (w *Workflow) ResolveVariables(in VariableInputs) (map[string]cty.Value, hcl.Diagnostics) {
	raws := map[string]rawValue{}
	var diags hcl.Diagnostics
	for _, kv := range in.Environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvVarPrefix) {
			continue
		}
		name = strings.TrimPrefix(name, EnvVarPrefix)
		if _, declared := w.Variables[name]; declared {
			raws[name] = rawValue{raw: val, from: "environment variable " + EnvVarPrefix + name}
		}
	}
	for _, f := range w.AutoVariableFiles() {
		diags = append(diags, w.readVarFile(f, w.displayPath(f), true, raws)...)
	}
	for _, a := range in.Args {
		if a.File {
			diags = append(diags, w.readVarFile(a.Value, a.Value, false, raws)...)
			continue
		}
		name, val, ok := strings.Cut(a.Value, "=")
		if !ok || name == "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid -var option",
				Detail:   fmt.Sprintf("The -var option %q is not of the form name=value.", a.Value),
			})
			continue
		}
		if _, declared := w.Variables[name]; !declared {
			diags = append(diags, undeclaredVar(name, "-var option", nil, sortedKeys(w.Variables), false))
			continue
		}
		raws[name] = rawValue{raw: val, from: "-var option"}
	}
	out := make(map[string]cty.Value, len(w.Variables))
	for _, name := range sortedKeys(w.Variables) {
		given := raws[name].from != ""
		if !given && in.Partial {
			out[name] = cty.UnknownVal(w.Variables[name].Type)
			continue
		}
		v, d := w.Variables[name].resolve(raws[name], given)
		diags = append(diags, d...)
		out[name] = v
	}
	if diags.HasErrors() || in.Partial {
		return out, diags
	}
	return out, append(diags, w.checkValidations(out)...)
}

// AutoVariableFiles returns the variable files of the workflow directory
// that are loaded automatically, in the order they are read (later wins):
// lockstep.vars and lockstep.vars.json, then every *.auto.vars and
// *.auto.vars.json in lexical order. Hidden files are skipped. The names are
// joined to Dir.
func (w *Workflow) AutoVariableFiles() []string {
	entries, err := w.files.readDir(w.Dir)
	if err != nil {
		return nil
	}
	var first, auto []string
	for _, e := range entries {
		n := e.Name()
		switch {
		case e.IsDir() || strings.HasPrefix(n, "."):
		case n == AutoVarsFile || n == AutoVarsFile+".json":
			first = append(first, n)
		case strings.HasSuffix(n, ".auto.vars") || strings.HasSuffix(n, ".auto.vars.json"):
			auto = append(auto, n)
		}
	}
	sort.Strings(first)
	sort.Strings(auto)
	var out []string
	for _, n := range append(first, auto...) {
		out = append(out, w.files.join(w.Dir, n))
	}
	return out
}

// AutoVarsFile is the variable file loaded first from a workflow directory.
const AutoVarsFile = "lockstep.vars"

// displayPath names a file of the workflow directory the way the workflow
// path was given (wf/lockstep.vars rather than an absolute path).
func (w *Workflow) displayPath(p string) string {
	if w.displayDir == "" {
		return p
	}
	return w.files.join(w.displayDir, w.files.base(p))
}

// undeclaredVar reports a value for a variable the workflow does not
// declare: an error, or a warning for a file loaded automatically (which
// may serve several workflows of one directory).
func undeclaredVar(name, from string, rng *hcl.Range, declared []string, warn bool) *hcl.Diagnostic {
	d := &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Value for undeclared variable",
		Detail: fmt.Sprintf("A value for the variable %q was given by a %s, but the workflow declares no variable "+
			"of that name.%s", name, from, didYouMean(name, declared)),
		Subject: rng,
	}
	if warn {
		d.Severity = hcl.DiagWarning
		d.Detail += " The value is ignored."
	}
	return d
}

// readVarFile parses a variable file (HCL attributes, or JSON when it ends
// in .json) into raws: a -var-file, or (auto) a file loaded automatically
// from the workflow directory. display names it in diagnostics.
func (w *Workflow) readVarFile(path, display string, auto bool, raws map[string]rawValue) hcl.Diagnostics {
	from := "-var-file"
	if auto {
		from = "variable file " + display
	}
	src, n, err := w.files.readCapped("", path, MaxFileSize, false)
	if errors.Is(err, errTooLarge) {
		return hcl.Diagnostics{tooLarge(display, n)}
	}
	if err != nil {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read variables file",
			Detail:   fmt.Sprintf("The %s %q cannot be read: %s.", strings.Fields(from)[0], display, errText(err)),
		}}
	}
	f, diags := ParseSource(src, display)
	if f != nil && w.Files != nil {
		w.Files[display] = f
	}
	if diags.HasErrors() || f == nil {
		return diags
	}
	attrs, d := f.Body.JustAttributes()
	diags = append(diags, d...)
	for _, a := range sortedAttrs(attrs) {
		if _, declared := w.Variables[a.Name]; !declared {
			diags = append(diags, undeclaredVar(a.Name, from, a.NameRange.Ptr(), sortedKeys(w.Variables), auto))
			continue
		}
		v, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			raws[a.Name] = rawValue{value: v, rng: a.Expr.Range(), from: from}
		}
	}
	return diags
}

// resolve turns the given input (or the default, when given is false) into a
// value of v's type.
func (v *Variable) resolve(in rawValue, given bool) (cty.Value, hcl.Diagnostics) {
	if !given {
		if v.Default == cty.NilVal {
			return cty.UnknownVal(v.Type), hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "No value for required variable",
				Detail: fmt.Sprintf("The variable %q has no default, so a value must be given with -var, -var-file "+
					"or the environment variable %s%s.", v.Name, EnvVarPrefix, v.Name),
				Subject: v.DeclRange.Ptr(),
			}}
		}
		return v.Default, nil
	}
	val := in.value
	if val == cty.NilVal {
		var diags hcl.Diagnostics
		val, diags = v.parseRaw(in.raw, in.from)
		if diags.HasErrors() {
			return cty.UnknownVal(v.Type), diags
		}
	}
	if v.TypeDefaults != nil {
		val = v.TypeDefaults.Apply(val)
	}
	conv, err := convert.Convert(val, v.Type)
	if err != nil {
		var subj *hcl.Range
		if in.value != cty.NilVal {
			subj = in.rng.Ptr()
		}
		return cty.UnknownVal(v.Type), hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail:   fmt.Sprintf("The value given for the variable %q by the %s is not suitable: %s.", v.Name, in.from, errText(err)),
			Subject:  subj,
		}}
	}
	return conv, nil
}

// parseRaw parses a string from the command line or environment as
// Terraform does: kept raw for string variables and those without a type,
// read as an HCL expression for every other type (any included).
func (v *Variable) parseRaw(raw, from string) (cty.Value, hcl.Diagnostics) {
	if !v.parseHCL {
		return cty.StringVal(raw), nil
	}
	if d := checkNesting([]byte(raw), from); d != nil {
		return cty.NilVal, hcl.Diagnostics{d}
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), "<value for var."+v.Name+">", hcl.InitialPos)
	if diags.HasErrors() {
		return cty.NilVal, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail: fmt.Sprintf("The value given for the variable %q by the %s cannot be parsed as %s: %s.",
				v.Name, from, v.Type.FriendlyName(), strings.TrimSuffix(diags[0].Detail, ".")),
		}}
	}
	val, diags := expr.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail: fmt.Sprintf("The value given for the variable %q by the %s must be a constant: %s.",
				v.Name, from, strings.TrimSuffix(diags[0].Detail, ".")),
		}}
	}
	return val, nil
}

// checkValidations evaluates every validation block against known values.
func (w *Workflow) checkValidations(vals map[string]cty.Value) hcl.Diagnostics {
	var diags hcl.Diagnostics
	scope := &Scope{BaseDir: w.Dir, Variables: vals}
	for _, name := range sortedKeys(w.Variables) {
		for _, val := range w.Variables[name].Validations {
			ok, d := scope.EvalExpr(val.Condition, cty.Bool)
			diags = append(diags, d...)
			if d.HasErrors() || !ok.IsKnown() || ok.IsNull() || ok.True() {
				continue
			}
			msg, d := scope.EvalExpr(val.ErrorMessage, cty.String)
			text := "The value is not valid."
			if !d.HasErrors() && msg.IsKnown() && !msg.IsNull() {
				text = msg.AsString()
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for variable",
				Detail: fmt.Sprintf("%s\n\nThis was checked by the validation rule at %s for the variable %q.",
					text, val.DeclRange, name),
				Subject: val.Condition.Range().Ptr(),
			})
		}
	}
	return diags
}
