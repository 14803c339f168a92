package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// FuzzLoad feeds arbitrary bytes through parse → decode → check (which
// evaluates every expression against unknowns) and, for inputs that load
// clean, orders the steps and evaluates every step expression again in a
// runner-like scope. Nothing may panic or hang. Seeds live in
// testdata/fuzz/FuzzLoad; the fixture corpus is added too.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"valid", "invalid"} {
		paths, _ := filepath.Glob(filepath.Join("..", "testdata", "config", dir, "*", "*.hcl"))
		more, _ := filepath.Glob(filepath.Join("..", "testdata", "config", dir, "*.hcl"))
		for _, p := range append(paths, more...) {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b, false)
			}
		}
	}
	f.Add([]byte(`{"step": {"a": {"command": ["x"], "lock": {"key": "k"}}}}`), true)
	dir := f.TempDir()
	// Expensive expressions are cut off sooner than in Load proper.
	checkTimeout = 2 * time.Second
	noenv := func(string) string { return "" }
	f.Fuzz(func(t *testing.T, src []byte, json bool) {
		if CheckSource(src, "x.hcl") == nil {
			eachChunk(src, "x.hcl", func(*hclsyntax.Body) {}) // the cutter and chunked parse never panic
		}
		name := filepath.Join(dir, "main.hcl")
		if json {
			name += ".json"
		}
		w, diags := loadSources(dir, fileSystem{}, []source{{name: name, src: src}}, noenv)
		if w == nil || diags.HasErrors() {
			return
		}
		order := w.Order()
		if len(order) != len(w.Steps) {
			t.Fatalf("clean workflow ordered %d of %d steps", len(order), len(w.Steps))
		}
		scope := &Scope{BaseDir: dir, Cwd: dir, Variables: w.UnknownVariables(), Getenv: noenv}
		w.EvalLocals(scope)
		scope.Steps = map[string]cty.Value{}
		for name, s := range w.Steps {
			scope.Steps[name] = UnknownStepResult(s.ForEach != nil)
		}
		for _, name := range order {
			s := w.Steps[name]
			if s.ForEach != nil {
				scope.Each = &EachValue{Key: cty.StringVal("k"), Value: cty.DynamicVal}
			}
			for _, e := range s.Expressions() {
				scope.EvalExpr(e, cty.DynamicPseudoType)
			}
			if sh := s.Attrs.Get("shell"); sh != nil {
				scope.EvalShell(sh)
			}
			scope.Each = nil
		}
	})
}

func TestFuzzSeedsPresent(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzLoad"))
	if err != nil || len(entries) < 10 {
		t.Fatalf("want at least 10 checked-in FuzzLoad seeds, got %d (%v)", len(entries), err)
	}
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzLoad", e.Name()))
		if !strings.HasPrefix(string(b), "go test fuzz v1\n") {
			t.Errorf("%s is not a fuzz corpus file", e.Name())
		}
	}
}
