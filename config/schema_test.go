package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// sampleRef is, for each attribute type, an expression of that type that
// refers to ref (a traversal of type string, such as step.other.output). A
// type without a sample fails TestSchema_everyAttributeTakesPartInReferences:
// add one when adding a type.
func sampleRef(t Type, ref string) (string, bool) {
	switch t {
	case TypeString, TypeKey, TypeDuration, TypeEnum:
		return ref, true
	case TypeShell:
		return `"echo ${` + ref + `}"`, true
	case TypeCount:
		return `tonumber(` + ref + `)`, true
	case TypeBool:
		return ref + ` == "x"`, true
	case TypeArgv:
		return `["echo", ` + ref + `]`, true
	case TypeStringMap:
		return `{ A = ` + ref + ` }`, true
	case TypeForEach:
		return `toset([` + ref + `])`, true
	case TypeAny:
		return ref, true
	}
	return "", false
}

// host returns a workflow in which attribute a of block b is set to expr;
// the block sits in step "s" (or is the lock "w", the output "o") and a
// step "other" exists.
func host(b *Block, a *Attribute, expr string) string {
	set := a.Name + " = " + expr + "\n"
	keyed := func(body string) string {
		if a.Name != "key" {
			body = `key = "k"` + "\n" + body
		}
		return body
	}
	step := func(body string) string {
		cmd := `command = ["true"]` + "\n"
		if b == StepSchema && (a.Name == "command" || a.Name == "shell") {
			cmd = ""
		}
		return "step \"other\" {\n  command = [\"true\"]\n}\nstep \"s\" {\n" + cmd + body + "}\n"
	}
	switch b {
	case StepSchema:
		return step(set)
	case LockSchema:
		return step("lock {\n" + keyed(set) + "}\n")
	case OnceSchema:
		return step("once {\n" + keyed(set) + "}\n")
	case CheckSchema:
		return step("check {\n" + set + "}\n")
	case RetrySchema:
		return step("retry {\n" + set + "}\n")
	case WorkflowLockSchema:
		return step("") + "lock \"w\" {\n" + keyed(set) + "}\n"
	case OutputSchema:
		return step("") + "output \"o\" {\n" + set + "}\n"
	}
	return ""
}

func loadSrc(t *testing.T, src string) (*Workflow, []string) {
	t.Helper()
	w, diags := Load(writeFiles(t, map[string]string{"main.hcl": src}), &LoadOptions{Getenv: func(string) string { return "" }})
	var sums []string
	for _, d := range diags {
		sums = append(sums, d.Summary)
	}
	return w, sums
}

// TestSchema_everyAttributeTakesPartInReferences: every attribute of every
// block, straight from the tables, has its references checked (an
// undeclared step is an error on it) and, where it may refer to steps,
// counted as dependencies. An attribute added to a table without taking
// part in references and dependencies fails here.
func TestSchema_everyAttributeTakesPartInReferences(t *testing.T) {
	for _, b := range Schemas {
		for _, a := range b.Attrs {
			t.Run(schemaName(b)+"."+a.Name, func(t *testing.T) {
				if a.Static() {
					if a.Type != TypeStepList && a.Refs != RefNone {
						t.Fatalf("static attribute %s must have Refs RefNone", a.Name)
					}
					if a.Type == TypeStepList {
						checkStepList(t, b, a)
					}
					return
				}
				if b == VariableSchema || b == ValidationSchema {
					return // decoded and checked by the variable decoder (TestVariables_*)
				}
				expr, ok := sampleRef(a.Type, "step.other.output")
				if !ok {
					t.Fatalf("no sample expression for the type of %s: add one to sampleRef", a.Name)
				}
				w, sums := loadSrc(t, host(b, a, expr))
				if a.Refs&RefSteps == 0 {
					if len(sums) == 0 {
						t.Fatalf("%s may not refer to steps, but a reference to step.other was accepted", a.Name)
					}
					return
				}
				if len(sums) > 0 {
					t.Fatalf("a valid reference in %s was refused: %v", a.Name, sums)
				}
				if b != OutputSchema && !slices.Contains(w.Dependencies("s"), "other") {
					t.Fatalf("a reference in %s is not a dependency: %v", a.Name, w.Dependencies("s"))
				}
				bad, _ := sampleRef(a.Type, "step.nope.output")
				if _, sums := loadSrc(t, host(b, a, bad)); !slices.Contains(sums, "Reference to undeclared step") {
					t.Fatalf("an undeclared step in %s is not reported: %v", a.Name, sums)
				}
			})
		}
	}
}

func checkStepList(t *testing.T, b *Block, a *Attribute) {
	t.Helper()
	w, sums := loadSrc(t, host(b, a, "[step.other]"))
	if len(sums) > 0 {
		t.Fatalf("a valid %s was refused: %v", a.Name, sums)
	}
	switch b {
	case StepSchema:
		if !slices.Contains(w.Dependencies("s"), "other") {
			t.Fatalf("%s is not a dependency", a.Name)
		}
	case WorkflowLockSchema:
		if got := w.LockScope("w"); !slices.Equal(got, []string{"other"}) {
			t.Fatalf("scope = %v", got)
		}
	}
	if _, sums := loadSrc(t, host(b, a, "[step.othr]")); !slices.Contains(sums, "Reference to undeclared step") {
		t.Fatalf("an undeclared step in %s is not reported: %v", a.Name, sums)
	}
}

// TestSchema_defaultsShownFromTheirGoValue: plan shows a default from the
// same Go value the runner uses.
func TestSchema_defaultsShownFromTheirGoValue(t *testing.T) {
	cases := map[*Attribute]string{
		LockSchema.Attr("ttl"):             `"30s"`,
		LockSchema.Attr("timeout"):         "(no limit)",
		LockSchema.Attr("on_busy"):         `"wait"`,
		LockSchema.Attr("limit"):           "1",
		LockSchema.Attr("mode"):            `"exclusive"`,
		LockSchema.Attr("queue"):           `"fifo"`,
		LockSchema.Attr("max_waiters"):     "(no limit)",
		OnceSchema.Attr("ttl"):             "(forever)",
		StepSchema.Attr("kill_timeout"):    `"10s"`,
		RetrySchema.Attr("delay"):          `"0s"`,
		RetrySchema.Attr("attempts"):       "1",
		WorkflowLockSchema.Attr("steps"):   "(the whole run)",
		WorkflowLockSchema.Attr("ttl"):     `"30s"`,
		WorkflowLockSchema.Attr("queue"):   `"fifo"`,
		WorkflowLockSchema.Attr("limit"):   "1",
		WorkflowLockSchema.Attr("on_busy"): `"wait"`,
	}
	for a, want := range cases {
		if got := a.ShowDefault(); got != want {
			t.Errorf("%s: shown %s, want %s", a.Label(), got, want)
		}
	}
	if got := FormatDuration(90 * time.Minute); got != "1h30m" {
		t.Errorf("FormatDuration = %s", got)
	}
}

// TestSchema_workflowLockHasEveryLockAttribute: a workflow-level lock takes
// the step lock's attributes plus steps, with the same defaults.
func TestSchema_workflowLockHasEveryLockAttribute(t *testing.T) {
	for _, a := range LockSchema.Attrs {
		w := WorkflowLockSchema.Attr(a.Name)
		if w.Type != a.Type || fmt.Sprint(w.Default) != fmt.Sprint(a.Default) || w.Required != a.Required {
			t.Errorf("%s differs: %+v vs %+v", a.Name, w, a)
		}
		if w.Refs&(RefSteps|RefEach|RefLocks) != 0 {
			t.Errorf("workflow lock attribute %s may refer to steps, each or locks", a.Name)
		}
	}
	if len(WorkflowLockSchema.Attrs) != len(LockSchema.Attrs)+1 || WorkflowLockSchema.Attrs[len(LockSchema.Attrs)].Name != "steps" {
		t.Errorf("a workflow lock should have the lock attributes plus steps")
	}
	if !strings.Contains(fmt.Sprint(ModeValues), "shared") || !strings.Contains(fmt.Sprint(QueueValues), "newest") {
		t.Errorf("modes %v queues %v", ModeValues, QueueValues)
	}
}

func schemaName(b *Block) string {
	if b == WorkflowLockSchema {
		return "workflow_lock"
	}
	return b.Type
}

// TestSchema_documented: docs/language.md names every attribute of every
// block, and every lock mode and queue policy.
func TestSchema_documented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "language.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range Schemas {
		for _, a := range b.Attrs {
			if !strings.Contains(string(doc), "`"+a.Name+"`") {
				t.Errorf("docs/language.md does not mention %s's attribute `%s`", schemaName(b), a.Name)
			}
		}
	}
	for _, v := range append(append(ModeValues, QueueValues...), OnBusyValues...) {
		if !strings.Contains(string(doc), `"`+v+`"`) {
			t.Errorf("docs/language.md does not mention %q", v)
		}
	}
}
