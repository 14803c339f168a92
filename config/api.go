package config

// This file fixes the API that the runner and the CLI build on. The bodies are
// placeholders until the loader lands; the signatures and contracts are the
// agreement between packages. Move each function to its proper file when
// implementing it, keeping the signature.

import (
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

func notYet(what string) hcl.Diagnostics {
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Not implemented", Detail: what + " is not implemented yet."}}
}

// LoadOptions tunes Load. The zero value is valid.
type LoadOptions struct {
	// Getenv resolves env() in backend blocks; nil means os.Getenv.
	Getenv func(string) string
}

// Load reads a workflow from path: a directory (every *.hcl and *.hcl.json file
// directly inside it, in lexical order, hidden files skipped) or a single file.
// It decodes every block and runs every static check (unknown blocks and
// attributes, literal types, durations, references, functions, cycles), keeping
// going after errors so that one run reports every problem. The returned
// Workflow is non-nil whenever any file parsed, even with error diagnostics, so
// its Files can be used to print snippets. It never panics on hostile input.
func Load(path string, opts *LoadOptions) (*Workflow, hcl.Diagnostics) {
	return nil, notYet("Load")
}

// VarArg is one -var (Name=Value form, File false) or -var-file (File true)
// command-line argument, in the order given.
type VarArg struct {
	File  bool
	Value string
}

// VariableInputs are the raw values given for a run. Precedence, later wins:
// default < environment (LOCKSTEP_VAR_name) < -var-file / -var in argument order.
type VariableInputs struct {
	Environ []string // os.Environ() form; only LOCKSTEP_VAR_* entries are read
	Args    []VarArg
}

// ResolveVariables parses the inputs against the declared variables (typed
// parsing of non-string values, as Terraform does), applies defaults, and
// evaluates validation blocks. An undeclared -var or -var-file entry and a
// missing required variable are errors naming the variable. The result maps
// every declared variable to a known value.
func (w *Workflow) ResolveVariables(in VariableInputs) (map[string]cty.Value, hcl.Diagnostics) {
	return nil, notYet("ResolveVariables")
}

// UnknownVariables maps every declared variable to an unknown value of its type,
// for validation without inputs.
func (w *Workflow) UnknownVariables() map[string]cty.Value {
	return nil
}

// Dependencies returns the names of the steps that step name depends on,
// through depends_on and through references in any of its expressions, sorted.
func (w *Workflow) Dependencies(name string) []string {
	return nil
}

// Order returns every step name in a deterministic topological order: a step
// comes after all its dependencies; ties are broken by name. The workflow must
// have loaded without errors (so it has no cycles).
func (w *Workflow) Order() []string {
	return nil
}

// StepRefs returns the names of the steps that expr refers to, sorted. The
// runner uses it to say "known after step.X".
func StepRefs(expr hcl.Expression) []string {
	return nil
}

// Functions returns the function table available to expressions, with file
// functions resolved against baseDir and env() through getenv (nil: os.Getenv).
func Functions(baseDir string, getenv func(string) string) map[string]function.Function {
	return nil
}

// EachValue is the current element of a for_each step instance.
type EachValue struct {
	Key   cty.Value // string
	Value cty.Value
}

// Scope holds the values that expressions are evaluated against. Missing step
// results should be set to unknown values (cty.DynamicVal) so that evaluation
// yields unknowns rather than errors.
type Scope struct {
	BaseDir   string               // path.root
	Cwd       string               // path.cwd
	Variables map[string]cty.Value // var.NAME
	Locals    map[string]cty.Value // local.NAME
	// Steps maps a step name to its result: an object {status, exit_code,
	// output}, or for a for_each step a map of such objects by key.
	Steps  map[string]cty.Value
	Each   *EachValue // nil outside a for_each step
	Getenv func(string) string
}

// EvalContext builds the hcl.EvalContext for this scope, including Functions.
func (s *Scope) EvalContext() *hcl.EvalContext {
	return nil
}

// EvalExpr evaluates expr and converts the result to want (cty.DynamicPseudoType
// for no conversion). Diagnostics carry the expression's range. The result may
// be unknown when the scope holds unknown values.
func (s *Scope) EvalExpr(expr hcl.Expression, want cty.Type) (cty.Value, hcl.Diagnostics) {
	return cty.NilVal, notYet("EvalExpr")
}

// EvalLocals evaluates every local of w in dependency order into s.Locals.
// Locals may refer to variables, other locals, path and functions, never to
// steps or each.
func (w *Workflow) EvalLocals(s *Scope) hcl.Diagnostics {
	return notYet("EvalLocals")
}

// ParseDuration parses a duration string from a value (Go syntax, "90s",
// "1h30m"), with a diagnostic on rng when it is malformed or below min.
func ParseDuration(v cty.Value, rng hcl.Range, min time.Duration) (time.Duration, hcl.Diagnostics) {
	return 0, notYet("ParseDuration")
}
