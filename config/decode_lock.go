package config

import (
	"github.com/hashicorp/hcl/v2"
)

// decodeWorkflowLock decodes a top-level lock "NAME" block.
func decodeWorkflowLock(b *hcl.Block) (*WorkflowLock, hcl.Diagnostics) {
	l := &WorkflowLock{Name: b.Labels[0], DeclRange: b.DefRange}
	diags := checkName("lock", l.Name, labelRange(b))
	attrs, content, d := decodeBlock(WorkflowLockSchema, b.Body)
	diags = append(diags, d...)
	l.Attrs = attrs
	if a, ok := content.Attributes["steps"]; ok {
		var d hcl.Diagnostics
		l.Steps, d = decodeStepList(a)
		diags = append(diags, d...)
		if len(l.Steps) == 0 && !d.HasErrors() {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Empty lock scope",
				Detail: "A workflow-level lock whose steps list is empty would never be taken. List the steps it " +
					"covers, or leave steps out to hold the lock for the whole run.",
				Subject: a.Expr.Range().Ptr(),
			})
		}
		if l.Steps == nil {
			l.Steps = []hcl.Traversal{}
		}
	}
	return l, diags
}

// LockScope returns the names of the steps the workflow-level lock name covers, sorted:
// its steps list, or every step of w when it has none. Undeclared steps are
// left out.
func (w *Workflow) LockScope(name string) []string {
	l := w.Locks[name]
	if l == nil {
		return nil
	}
	if l.Steps == nil {
		return sortedKeys(w.Steps)
	}
	seen := map[string]bool{}
	for _, tr := range l.Steps {
		if r := parseRef(tr); w.Steps[r.name] != nil {
			seen[r.name] = true
		}
	}
	return sortedKeys(seen)
}

// InLockScope reports whether step is in the scope of the workflow-level
// lock name.
func (w *Workflow) InLockScope(name, step string) bool {
	l := w.Locks[name]
	if l == nil {
		return false
	}
	if l.Steps == nil {
		return w.Steps[step] != nil
	}
	for _, tr := range l.Steps {
		if parseRef(tr).name == step {
			return true
		}
	}
	return false
}
