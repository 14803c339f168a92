package config

// This file holds the types of the config API that the runner and the CLI
// build on. The functions live beside their kin: Load in load.go,
// ResolveVariables and UnknownVariables in variables.go, Dependencies and
// Order in graph.go, StepRefs in refs.go, Functions in functions.go, the Scope
// methods and EvalLocals in scope.go, ParseDuration in duration.go.

import (
	"io/fs"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// LoadOptions tunes Load. The zero value is valid.
type LoadOptions struct {
	// Getenv resolves env() in backend blocks; nil means os.Getenv.
	Getenv func(string) string
	// FS, when set, is read instead of the operating system's files: the
	// path given to Load, the names given to file() and fileexists() and
	// variable files are then slash-separated paths in it, and path.root is
	// the workflow directory's path in it. nil reads the OS's files (any
	// absolute or relative path).
	FS fs.FS
}

// VarArg is one -var (Name=Value form, File false) or -var-file (File true)
// command-line argument, in the order given.
type VarArg struct {
	File  bool
	Value string
}

// VariableInputs are the raw values given for a run. Precedence, later wins:
// default < environment (LOCKSTEP_VAR_name) < lockstep.vars < *.auto.vars
// (lexical order) < -var-file / -var in argument order.
type VariableInputs struct {
	Environ []string // os.Environ() form; only LOCKSTEP_VAR_* entries are read
	Args    []VarArg
	// Partial reads and checks what is given without requiring a value for
	// every variable and without running validations (validate uses it to
	// check the variable files); missing values are unknown.
	Partial bool
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
	Steps map[string]cty.Value
	// Locks maps a workflow-level lock name to lock.NAME, an object {key,
	// fencing_token} (LockValue once held, UnknownLockValue before).
	Locks  map[string]cty.Value
	Each   *EachValue // nil outside a for_each step
	Getenv func(string) string
	// FS is the file system file() and fileexists() read (Workflow.FS);
	// nil means the OS.
	FS fs.FS

	funcs map[string]function.Function // built on first use
	objs  *objCache                    // var and local objects, built on first use
}
