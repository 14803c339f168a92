package config

import (
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// LockAttributes are the attributes of a workflow-level lock reference,
// lock.NAME.ATTR.
var LockAttributes = []string{"key", "fencing_token"}

// LockValueType is the type of lock.NAME.
var LockValueType = cty.Object(map[string]cty.Type{"key": cty.String, "fencing_token": cty.Number})

// UnknownLockValue is lock.NAME before the lock is acquired: its key (known
// once evaluated, or unknown) and an unknown fencing token.
func UnknownLockValue(key cty.Value) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{"key": key, "fencing_token": cty.UnknownVal(cty.Number)})
}

// LockValue is lock.NAME once the lock is held.
func LockValue(key string, fence int64) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(key), "fencing_token": cty.NumberIntVal(fence)})
}

// lockRef checks a lock.NAME.ATTR reference: only a step's body may use
// one, only for a declared workflow-level lock whose scope holds the step.
func (c *checker) lockRef(r ref, ctx refContext) {
	if ctx.refs&RefLocks == 0 || ctx.step == nil {
		where := map[string]string{
			"output": "an output", "local value": "a local value", "variable validation": "a variable validation",
			"lock": "a workflow-level lock", "for_each": "a for_each argument",
		}[ctx.what]
		c.errorf(r.rng, "Invalid reference to a lock",
			"Only the body of a step may refer to a workflow-level lock (lock.NAME.key, lock.NAME.fencing_token), "+
				"because the lock is held only while the steps of its scope run; this reference is in %s.", where)
		return
	}
	if !c.named(r, "lock", "lock", c.w.Locks[r.name] != nil, func() []string { return sortedKeys(c.w.Locks) }) {
		return
	}
	switch {
	case r.attr == "":
		c.errorf(r.rng, "Invalid lock reference",
			"A workflow-level lock is used through its attributes, lock.%s.key and lock.%s.fencing_token.", r.name, r.name)
	case !contains(LockAttributes, r.attr):
		c.errorf(r.rng, "Invalid lock attribute",
			"A workflow-level lock has only the attributes key and fencing_token; %q is not one of them.%s",
			r.attr, didYouMean(r.attr, LockAttributes))
	case !c.w.InLockScope(r.name, ctx.step.Name):
		c.errorf(r.rng, "Reference to a lock outside its scope",
			"The step %q is not in the scope of the lock %q (declared at %s), so the lock is not held while the "+
				"step runs. Add step.%s to the lock's steps, or remove this reference.",
			ctx.step.Name, r.name, c.w.Locks[r.name].DeclRange, ctx.step.Name)
	}
}

// EnvName turns a lock name or label into the suffix of its environment
// variable, LOCKSTEP_FENCING_TOKEN_<SUFFIX>: letters and digits upper-cased,
// anything else "_".
func EnvName(name string) string {
	return strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z':
			return c - 'a' + 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			return c
		}
		return '_'
	}, name)
}

// fenceVars reports two locks held around one step whose fencing tokens
// would reach it through the same variable: a labelled lock of the step and
// a workflow-level lock whose scope holds it, or two workflow-level locks
// with common steps.
func (c *checker) fenceVars() {
	names := sortedKeys(c.w.Locks)
	reported := map[string]bool{}
	for _, step := range c.stepNames() {
		seen := map[string]string{} // env suffix → what sets it
		for _, n := range names {
			if !c.w.InLockScope(n, step) {
				continue
			}
			if prev, ok := seen[EnvName(n)]; ok {
				if reported[prev+" "+n] {
					continue
				}
				reported[prev+" "+n] = true
				c.errorf(c.w.Locks[n].DeclRange, "Conflicting fencing token variable",
					"The locks %s and lock.%s both hold step.%s and would both set LOCKSTEP_FENCING_TOKEN_%s. "+
						"Rename one of them.", prev, n, step, EnvName(n))
				continue
			}
			seen[EnvName(n)] = "lock." + n
		}
		for _, l := range c.w.Steps[step].Locks {
			if prev, ok := seen[EnvName(l.Label)]; ok && l.Label != "" {
				c.errorf(l.DeclRange, "Conflicting fencing token variable",
					"The lock %q of step.%s and %s would both set LOCKSTEP_FENCING_TOKEN_%s in the step's "+
						"environment. Rename the label or the workflow-level lock.", l.Label, step, prev, EnvName(l.Label))
			}
		}
	}
}
