package config

// The reference checks: what each root (var, local, step, each, path, lock)
// may name, and where it may be used.

var rootNames = []string{"var", "local", "step", "each", "path", "lock"}

func (c *checker) ref(r ref, ctx refContext) {
	switch r.root {
	case "var":
		c.varRef(r, ctx)
	case "local":
		if ctx.what == "variable validation" {
			c.errorf(r.rng, "Invalid reference in variable validation",
				"A validation rule of the variable %q may refer only to var.%s; local values are not known yet when variables are checked.",
				ctx.variable, ctx.variable)
			return
		}
		c.named(r, "local value", "local", c.w.Locals[r.name] != nil, func() []string { return sortedKeys(c.w.Locals) })
	case "step":
		c.stepRef(r, ctx)
	case "each":
		c.eachRef(r, ctx)
	case "lock":
		c.lockRef(r, ctx)
	case "path":
		if r.name != "root" && r.name != "cwd" {
			c.errorf(r.rng, "Invalid path attribute",
				"The path object has only the attributes root (the workflow directory) and cwd (the current directory).%s",
				didYouMean(r.name, []string{"root", "cwd"}))
		}
	default:
		c.errorf(r.rng, "Unknown reference",
			"There is no object named %q. References start with var., local., step., each., lock. or path.%s",
			r.root, didYouMean(r.root, rootNames))
	}
}

func (c *checker) varRef(r ref, ctx refContext) {
	if !c.named(r, "variable", "var", c.w.Variables[r.name] != nil, func() []string { return sortedKeys(c.w.Variables) }) {
		return
	}
	if ctx.what == "variable validation" && r.name != ctx.variable {
		c.errorf(r.rng, "Invalid reference in variable validation",
			"A validation rule of the variable %q may refer only to var.%s, not to var.%s.", ctx.variable, ctx.variable, r.name)
	}
}

// named checks a var.NAME or local.NAME reference; it reports and returns
// false when the name is missing or undeclared.
func (c *checker) named(r ref, kind, root string, ok bool, declared func() []string) bool {
	if r.name == "" {
		c.errorf(r.rng, "Invalid reference",
			"The %s object cannot be used on its own; refer to one %s by name, such as %s.name.", root, kind, root)
		return false
	}
	if !ok {
		c.errorf(r.nameR, "Reference to undeclared "+kind,
			"No %s named %q is declared in this workflow.%s", kind, r.name, didYouMean(r.name, declared()))
		return false
	}
	return true
}

func (c *checker) stepRef(r ref, ctx refContext) {
	switch ctx.what {
	case "local value", "variable validation":
		c.errorf(r.rng, "Invalid reference in "+ctx.what,
			"A %s is evaluated before any step runs, so it cannot refer to step results.", ctx.what)
		return
	case "lock":
		c.errorf(r.rng, "Invalid reference in lock",
			"The attributes of a workflow-level lock are evaluated before the first step of its scope starts, "+
				"so they cannot refer to step results.")
		return
	}
	if !c.named(r, "step", "step", c.w.Steps[r.name] != nil, c.stepNames) {
		return
	}
	target := c.w.Steps[r.name]
	if ctx.step != nil && r.name == ctx.step.Name {
		c.errorf(r.rng, "Self-referential step",
			"The step %q refers to its own result, which does not exist until it has run.", r.name)
		return
	}
	switch {
	case r.index && target.ForEach == nil:
		c.errorf(r.rng, "Unexpected step instance key",
			"The step %q has no for_each, so it has no instances to index; use step.%s.ATTR.", r.name, r.name)
	case !r.index && r.attr != "" && target.ForEach != nil:
		c.errorf(r.rng, "Missing step instance key",
			"The step %q has for_each, so its results must be addressed by key, such as step.%s[\"key\"].%s.",
			r.name, r.name, r.attr)
	case r.attr != "" && !contains(StepAttributes, r.attr):
		c.errorf(r.rng, "Invalid step attribute",
			"A step result has only the attributes status, exit_code and output; %q is not one of them.%s",
			r.attr, didYouMean(r.attr, StepAttributes))
	}
}

func (c *checker) eachRef(r ref, ctx refContext) {
	switch {
	case ctx.what == "for_each":
		c.errorf(r.rng, "Invalid reference in for_each",
			"The for_each argument decides the instances, so it cannot refer to each, which exists only inside them.")
	case !ctx.allowEach:
		where := map[string]string{
			"step": "a step without for_each", "output": "an output", "local value": "a local value",
			"variable validation": "a variable validation", "lock": "a workflow-level lock",
		}[ctx.what]
		c.errorf(r.rng, `Reference to "each" outside for_each`,
			"The each object exists only in a step that sets for_each; this reference is in %s.", where)
	case r.name != "key" && r.name != "value":
		c.errorf(r.rng, "Invalid each attribute",
			"The each object has only the attributes key and value.%s", didYouMean(r.name, []string{"key", "value"}))
	}
}
