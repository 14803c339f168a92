package config

import (
	"io/fs"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"
)

// Workflow is a loaded workflow exactly as its source says it: blocks decoded
// into structs, every value still an unevaluated hcl.Expression with its source
// range. Values exist only in an evaluation Scope.
type Workflow struct {
	// Dir is the workflow directory (path.root): the directory given, or the
	// directory of the single file given. Absolute.
	Dir string

	// Files holds every parsed file by the filename used in diagnostics, so a
	// diagnostic writer can print source snippets.
	Files map[string]*hcl.File

	// Settings is the lockstep block, or nil when there is none.
	Settings *Settings

	Variables map[string]*Variable
	Locals    map[string]*Local
	Steps     map[string]*Step
	Outputs   map[string]*Output
	// Locks are the workflow-level lock blocks by name.
	Locks map[string]*WorkflowLock

	// deps caches each step's dependencies once the workflow is checked.
	deps map[string][]string
	// files is the file system the workflow was read from.
	files fileSystem
	// displayDir is the workflow directory as the path given to Load spells
	// it, for naming variable files in diagnostics.
	displayDir string
}

// FS returns the file system the workflow was read from (LoadOptions.FS);
// nil means the OS. A Scope for the workflow should read through it.
func (w *Workflow) FS() fs.FS { return w.files.fsys }

// Settings is the lockstep block.
type Settings struct {
	Backend   *Backend // nil when the block has no backend
	DeclRange hcl.Range
}

// Backend is a `backend "redis"` or `backend "local"` block, decoded to plain
// values when the workflow is loaded (backend attributes may call functions such
// as env(), but may not refer to variables, locals or steps).
type Backend struct {
	Type string // "redis" or "local"

	// redis
	URL       string     // redis://, rediss:// or unix:// URL; may be empty with Sentinel/Cluster
	URLRange  *hcl.Range // the url expression, when the attribute is set (for diagnostics)
	Username  string
	Password  string // never printed
	KeyPrefix string // "" means the default, "lockstep:"
	DB        int
	Sentinel  *Sentinel
	Cluster   *Cluster
	TLS       *TLS
	// SecretEnv names the environment variables the block read through
	// env() for a secret: in a password attribute (of the backend or its
	// sentinel block), or in a url that carries a password
	// (redis://:PASSWORD@host). The CLI keeps them from steps.
	SecretEnv []string

	// local
	Path string // directory for lock files; "" means the per-user default

	DeclRange hcl.Range
}

// Sentinel is the sentinel block of a redis backend.
type Sentinel struct {
	MasterName string
	Addresses  []string
	Username   string
	Password   string
}

// Cluster is the cluster block of a redis backend.
type Cluster struct {
	Addresses []string
}

// TLS is the tls block of a redis backend.
type TLS struct {
	CAFile, CertFile, KeyFile, ServerName string
	InsecureSkipVerify                    bool
}

// Variable is a variable block.
type Variable struct {
	Name        string
	Description string
	Type        cty.Type // cty.DynamicPseudoType when no type was given
	// TypeDefaults holds the optional(attr, default) defaults of Type; nil
	// when it has none. Apply it to a given value before converting.
	TypeDefaults *typeexpr.Defaults
	Default      cty.Value // cty.NilVal when the variable is required
	Sensitive    bool
	Validations  []*Validation
	DeclRange    hcl.Range

	// parseHCL is set when a type other than string was given: command-line
	// and environment values are then parsed as HCL expressions.
	parseHCL bool
}

// Validation is a validation block of a variable.
type Validation struct {
	Condition    hcl.Expression
	ErrorMessage hcl.Expression
	DeclRange    hcl.Range
}

// Local is one attribute of a locals block.
type Local struct {
	Name      string
	Expr      hcl.Expression
	DeclRange hcl.Range
}

// Step is a step block. Its attributes are in Attrs, by StepSchema;
// description and depends_on are decoded when the workflow is loaded.
type Step struct {
	Name        string
	Description string
	DependsOn   []hcl.Traversal // each is step.NAME
	// ForEach is Attrs.Get("for_each"), kept at hand because it decides
	// the step's instances; nil when the step has no for_each.
	ForEach   hcl.Expression
	Attrs     Attrs
	Locks     []*Lock
	Once      *Once
	Checks    []*Check
	Retry     *Retry
	DeclRange hcl.Range
}

// Lock is a lock block of a step, by LockSchema.
type Lock struct {
	Label     string // "" for an unlabelled lock
	Attrs     Attrs
	DeclRange hcl.Range
}

// WorkflowLock is a top-level lock "NAME" block, by WorkflowLockSchema: a
// lock held across the steps of its scope.
type WorkflowLock struct {
	Name  string
	Attrs Attrs // steps is decoded into Steps
	// Steps are the step.NAME references of its steps attribute; nil when
	// it has none (the scope is then the whole run).
	Steps     []hcl.Traversal
	DeclRange hcl.Range
}

// Once is the once block of a step, by OnceSchema.
type Once struct {
	Attrs     Attrs
	DeclRange hcl.Range
}

// Check is a check block of a step, by CheckSchema: Condition, Command or
// both (the two are Attrs.Get("condition") and Attrs.Get("command"), at hand).
type Check struct {
	Condition hcl.Expression // bool
	Command   hcl.Expression // list(string)
	Attrs     Attrs
	DeclRange hcl.Range
}

// Retry is the retry block of a step, by RetrySchema.
type Retry struct {
	Attrs     Attrs
	DeclRange hcl.Range
}

// Output is an output block.
type Output struct {
	Name        string
	Description string
	Value       hcl.Expression
	Sensitive   bool
	DeclRange   hcl.Range
}
