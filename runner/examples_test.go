package runner

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lockstep-dev/lockstep/config"
)

// TestExamples_loadAndPlan loads every workflow in examples/, resolves its
// variables from defaults and previews its plan without errors.
func TestExamples_loadAndPlan(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("..", "examples", "*"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		n++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
				t.Errorf("example has no README.md: %v", err)
			}
			wf, diags := config.Load(dir, nil)
			if diags.HasErrors() {
				t.Fatalf("load: %s", diags.Error())
			}
			vars, diags := wf.ResolveVariables(config.VariableInputs{})
			if diags.HasErrors() {
				t.Fatalf("variables: %s", diags.Error())
			}
			plan, diags := NewPlan(wf, nil)
			if diags.HasErrors() {
				t.Fatalf("plan: %s", diags.Error())
			}
			scope, diags := BaseScope(wf, vars, dir, nil)
			if diags.HasErrors() {
				t.Fatalf("scope: %s", diags.Error())
			}
			for _, pi := range plan.Preview(scope) {
				if pi.Diags.HasErrors() {
					t.Errorf("%s: %s", pi.Address, pi.Diags.Error())
				}
			}
		})
	}
	if n < 4 {
		t.Errorf("found %d examples, want at least 4", n)
	}
}
