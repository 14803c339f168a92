package config

import (
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// This file is the one description of every block of the language: for each
// attribute its name, type, whether it is required, its default (a Go value,
// shown by plan from that same value), its minimum, the values it may take
// and what it may refer to. The HCL schemas, the decoder, Step.Expressions
// (references and dependencies), the static checks with unknown values, the
// evaluation the runner does, plan's preview and plan -json are all driven
// by these tables: adding an attribute is one entry here plus its behaviour.

// Type is what an attribute's value is. Each type has one check, used by
// validate (on unknown values) and at run time (on known ones), one
// conversion to a Go value and one way of being shown; see values.go.
type Type int

// Attribute types.
const (
	TypeString    Type = iota // a string
	TypeShell                 // a shell template: literal text is code, interpolations are data (shell.go)
	TypeKey                   // a lock or once key: non-empty, no NUL byte, never sensitive
	TypeDuration              // a duration string ("30s") of at least Min
	TypeCount                 // a whole number from Min to MaxCount
	TypeEnum                  // one of Values
	TypeBool                  // a bool
	TypeArgv                  // a list of strings with at least one element
	TypeStringMap             // a map of strings
	TypeForEach               // a map, or a set of strings: the instances of a step
	TypeAny                   // any value
	TypeStepList              // a list of step.NAME references, decoded statically
	TypeText                  // a constant string (description)
	TypeFlag                  // a constant bool (sensitive)
	TypeTypeExpr              // a type constraint (variable type)
	TypeConstant              // a constant of the variable's type (variable default)
)

// MaxCount is the largest whole number a TypeCount attribute takes.
const MaxCount = 1 << 20

// Refs says which references, beyond var, local, path and functions, an
// attribute may use.
type Refs uint8

// Reference permissions.
const (
	// RefSteps: step.NAME results; every such reference is a dependency.
	RefSteps Refs = 1 << iota
	// RefEach: each.key and each.value, in a step that sets for_each.
	RefEach
	// RefLocks: lock.NAME.key and lock.NAME.fencing_token of the
	// workflow-level locks whose scope holds the step.
	RefLocks
	// RefNone marks an attribute that may refer to nothing at all (a
	// constant, or an expression evaluated before variables exist).
	RefNone
)

// RefBody is what a step's body may use: step results, each and the
// workflow-level locks in scope.
const RefBody = RefSteps | RefEach | RefLocks

// Attribute describes one attribute of a block.
type Attribute struct {
	Name     string
	Type     Type
	Required bool
	// Default is the Go value used when the attribute is absent:
	// time.Duration for TypeDuration, int for TypeCount, string for
	// TypeEnum and TypeString, bool for TypeBool. nil means none.
	Default any
	// Absent is how an absent attribute without a Default is shown
	// ("no limit", "forever"); "" means it is not shown.
	Absent string
	// Min is the smallest value allowed, of the same Go type as Default:
	// time.Duration for TypeDuration, int for TypeCount (1 when nil).
	Min any
	// Values are the values a TypeEnum attribute may take.
	Values []string
	// Refs are the references it may use.
	Refs Refs
	// Quiet attributes are left out of plan's text while they are absent.
	Quiet bool
	// Why explains the attribute in diagnostics about its value, as the
	// start of a sentence ("The limit of a lock is how many holders it
	// admits at once").
	Why string

	block *Block // the block it belongs to
}

// Block describes a block: its type, its label and its attributes. Nested
// blocks are decoded by the code of the enclosing block.
type Block struct {
	Type string
	// What names the block in messages: "step", "lock", "once".
	What string
	// Labels are the names of its labels ("name"); a step lock's optional
	// label is handled by the step decoder.
	Labels []string
	Attrs  []*Attribute
	// Blocks are the nested block types allowed (decoded by hand).
	Blocks []string
	// Rule checks what single attributes cannot: how the values of several
	// relate. It gets each attribute's value (unknown at validate time,
	// cty.NilVal when absent) and range, and runs wherever Check does.
	Rule func(get AttrGetter) hcl.Diagnostics

	index  map[string]int
	schema *hcl.BodySchema
}

// Lock modes and queue policies, the values of mode and queue.
var (
	ModeValues   = []string{"exclusive", "shared"}
	QueueValues  = []string{"fifo", "newest"}
	OnBusyValues = []string{"wait", "skip", "fail"}
)

// Minimum durations checked at validate time.
const (
	MinLockTTL = time.Second // a lock's ttl
	MinOnceTTL = time.Second // a once marker's ttl
)

// lockAttrs are the attributes of a step's lock block; a workflow-level
// lock takes the same plus steps.
func lockAttrs(refs Refs) []*Attribute {
	return []*Attribute{
		{Name: "key", Type: TypeKey, Required: true, Refs: refs},
		{Name: "ttl", Type: TypeDuration, Default: 30 * time.Second, Min: MinLockTTL, Refs: refs},
		{Name: "timeout", Type: TypeDuration, Absent: "no limit", Min: time.Duration(0), Refs: refs},
		{Name: "on_busy", Type: TypeEnum, Default: "wait", Values: OnBusyValues, Refs: refs},
		{Name: "limit", Type: TypeCount, Default: 1, Refs: refs,
			Why: "The limit of a lock is how many holders it admits at once"},
		{Name: "mode", Type: TypeEnum, Default: "exclusive", Values: ModeValues, Refs: refs, Quiet: true},
		{Name: "queue", Type: TypeEnum, Default: "fifo", Values: QueueValues, Refs: refs, Quiet: true},
		{Name: "max_waiters", Type: TypeCount, Absent: "no limit", Refs: refs, Quiet: true,
			Why: "The max_waiters of a lock is how many requests may wait for it at once"},
	}
}

// The blocks of the language.
var (
	StepSchema = newBlock(&Block{Type: "step", What: "step", Labels: []string{"name"},
		Blocks: []string{"lock", "once", "check", "retry"},
		Attrs: []*Attribute{
			{Name: "description", Type: TypeText, Refs: RefNone},
			{Name: "depends_on", Type: TypeStepList, Refs: RefSteps},
			{Name: "for_each", Type: TypeForEach, Refs: RefSteps},
			{Name: "command", Type: TypeArgv, Refs: RefBody},
			{Name: "shell", Type: TypeShell, Refs: RefBody},
			{Name: "env", Type: TypeStringMap, Refs: RefBody},
			{Name: "dir", Type: TypeString, Refs: RefBody},
			{Name: "timeout", Type: TypeDuration, Min: time.Millisecond, Absent: "no limit", Refs: RefBody},
			{Name: "kill_timeout", Type: TypeDuration, Default: 10 * time.Second, Min: time.Duration(0), Refs: RefBody,
				Quiet: true},
		}})

	LockSchema = newBlock(&Block{Type: "lock", What: "lock", Attrs: lockAttrs(RefBody), Rule: sharedLimitRule})

	// WorkflowLockSchema is the top-level lock "NAME" block. Its attributes
	// are evaluated before its first step starts, so they may not refer to
	// steps, each or other locks.
	WorkflowLockSchema = newBlock(&Block{Type: "lock", What: "lock", Labels: []string{"name"}, Rule: sharedLimitRule,
		Attrs: append(lockAttrs(0), &Attribute{Name: "steps", Type: TypeStepList, Refs: RefSteps, Absent: "the whole run"})})

	OnceSchema = newBlock(&Block{Type: "once", What: "once", Attrs: []*Attribute{
		{Name: "key", Type: TypeKey, Required: true, Refs: RefBody},
		{Name: "ttl", Type: TypeDuration, Min: MinOnceTTL, Absent: "forever", Refs: RefBody},
	}})

	CheckSchema = newBlock(&Block{Type: "check", What: "check", Attrs: []*Attribute{
		{Name: "condition", Type: TypeBool, Refs: RefBody},
		{Name: "command", Type: TypeArgv, Refs: RefBody},
	}})

	RetrySchema = newBlock(&Block{Type: "retry", What: "retry", Attrs: []*Attribute{
		{Name: "attempts", Type: TypeCount, Default: 1, Refs: RefBody,
			Why: "The attempts of a retry block count every run of the step, the first included"},
		{Name: "delay", Type: TypeDuration, Default: time.Duration(0), Min: time.Duration(0), Refs: RefBody},
	}})

	OutputSchema = newBlock(&Block{Type: "output", What: "output", Labels: []string{"name"}, Attrs: []*Attribute{
		{Name: "value", Type: TypeAny, Required: true, Refs: RefSteps},
		{Name: "description", Type: TypeText, Refs: RefNone},
		{Name: "sensitive", Type: TypeFlag, Refs: RefNone},
	}})

	VariableSchema = newBlock(&Block{Type: "variable", What: "variable", Labels: []string{"name"},
		Blocks: []string{"validation"},
		Attrs: []*Attribute{
			{Name: "type", Type: TypeTypeExpr, Refs: RefNone},
			{Name: "default", Type: TypeConstant, Refs: RefNone},
			{Name: "description", Type: TypeText, Refs: RefNone},
			{Name: "sensitive", Type: TypeFlag, Refs: RefNone},
		}})

	// ValidationSchema is a variable's validation block; it may refer only
	// to its own variable.
	ValidationSchema = newBlock(&Block{Type: "validation", What: "validation", Attrs: []*Attribute{
		{Name: "condition", Type: TypeBool, Required: true},
		{Name: "error_message", Type: TypeString, Required: true},
	}})
)

// Schemas lists every block description, for tests and documentation.
var Schemas = []*Block{StepSchema, LockSchema, WorkflowLockSchema, OnceSchema, CheckSchema, RetrySchema,
	OutputSchema, VariableSchema, ValidationSchema}

func newBlock(b *Block) *Block {
	b.index = make(map[string]int, len(b.Attrs))
	s := &hcl.BodySchema{}
	for i, a := range b.Attrs {
		a.block = b
		b.index[a.Name] = i
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: a.Name, Required: a.Required})
	}
	for _, t := range b.Blocks {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: t})
	}
	b.schema = s
	return b
}

// Attr returns the attribute called name; it panics when the block has no
// such attribute, which is a mistake in lockstep's code, not in a workflow.
func (b *Block) Attr(name string) *Attribute {
	i, ok := b.index[name]
	if !ok {
		panic("config: block " + b.Type + " has no attribute " + name)
	}
	return b.Attrs[i]
}

// BodySchema is the HCL schema of the block's body.
func (b *Block) BodySchema() *hcl.BodySchema { return b.schema }

// Static reports whether the attribute is decoded when the workflow is
// loaded (a constant or a list of references) rather than evaluated.
func (a *Attribute) Static() bool {
	switch a.Type {
	case TypeStepList, TypeText, TypeFlag, TypeTypeExpr, TypeConstant:
		return true
	}
	return false
}

// CheckRule runs the block's Rule, if any, on the values get returns.
func (b *Block) CheckRule(get AttrGetter) hcl.Diagnostics {
	if b.Rule == nil {
		return nil
	}
	return b.Rule(get)
}

// getter returns an AttrGetter over values and ranges indexed by the
// block's attributes.
func (b *Block) getter(vals []cty.Value, rngs []hcl.Range) AttrGetter {
	return func(name string) (cty.Value, *hcl.Range) {
		i := b.index[name]
		if vals[i] == cty.NilVal {
			return cty.NilVal, nil
		}
		return vals[i], &rngs[i]
	}
}
