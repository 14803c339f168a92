package config

import (
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

	// deps caches each step's dependencies once the workflow is checked.
	deps map[string][]string
}

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
	URL       string // redis://, rediss:// or unix:// URL; may be empty with Sentinel/Cluster
	Username  string
	Password  string // never printed
	KeyPrefix string // "" means the default, "lockstep:"
	DB        int
	Sentinel  *Sentinel
	Cluster   *Cluster
	TLS       *TLS

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

// Step is a step block. Expression fields are nil when the attribute is absent.
type Step struct {
	Name        string
	Description string
	DependsOn   []hcl.Traversal // each is step.NAME
	ForEach     hcl.Expression
	Command     hcl.Expression // list(string)
	Shell       hcl.Expression // string
	Env         hcl.Expression // map(string)
	Dir         hcl.Expression // string
	Timeout     hcl.Expression // duration string
	KillTimeout hcl.Expression // duration string
	Locks       []*Lock
	Once        *Once
	Checks      []*Check
	Retry       *Retry
	DeclRange   hcl.Range
}

// Lock is a lock block of a step.
type Lock struct {
	Label     string // "" for an unlabelled lock
	Key       hcl.Expression
	TTL       hcl.Expression // duration; nil means 30s
	Timeout   hcl.Expression // duration; nil means wait without limit
	OnBusy    hcl.Expression // "wait", "skip" or "fail"; nil means "wait"
	Limit     hcl.Expression // number >= 1; nil means 1
	DeclRange hcl.Range
}

// Once is the once block of a step.
type Once struct {
	Key       hcl.Expression
	TTL       hcl.Expression // duration; nil means forever
	DeclRange hcl.Range
}

// Check is a check block of a step: Condition, Command or both.
type Check struct {
	Condition hcl.Expression // bool
	Command   hcl.Expression // list(string)
	DeclRange hcl.Range
}

// Retry is the retry block of a step.
type Retry struct {
	Attempts  hcl.Expression // number
	Delay     hcl.Expression // duration
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
