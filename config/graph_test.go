package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestOrderAndDependencies(t *testing.T) {
	w := mustLoad(t, writeFiles(t, map[string]string{"main.hcl": `
step "d" {
  shell = "echo ${step.b.output} ${step.c["x"].status}"
}
step "c" {
  for_each = toset(["x"])
  shell    = "true"
  lock { key = step.a.output }
}
step "b" {
  shell      = "true"
  depends_on = [step.a]
}
step "a" { shell = "true" }
step "z" { shell = "true" }
`}))
	if got := strings.Join(w.Order(), ","); got != "a,b,c,d,z" {
		t.Fatalf("Order = %s", got)
	}
	deps := map[string][]string{"a": nil, "b": {"a"}, "c": {"a"}, "d": {"b", "c"}, "z": nil}
	for name, want := range deps {
		if got := w.Dependencies(name); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("Dependencies(%s) = %v, want %v", name, got, want)
		}
	}
	if got := StepRefs(w.Steps["d"].Attrs.Get("shell")); !reflect.DeepEqual(got, []string{"b", "c"}) {
		t.Errorf("StepRefs = %v", got)
	}
	if StepRefs(nil) != nil {
		t.Errorf("StepRefs(nil) not nil")
	}
}

func TestCycles(t *testing.T) {
	got := cycles(map[string][]string{"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"f"}, "f": {"e"}})
	want := [][]string{{"a", "b", "c"}, {"e", "f"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("cycles = %v, want %v", got, want)
	}
}
