package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

const errorMarker = "# ERROR: "

// expectedErrors reads the "# ERROR: <summary>" markers of a fixture: one
// "line: summary" entry per marker (a line may carry several markers).
func expectedErrors(t *testing.T, path string) []string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i, line := range strings.Split(string(src), "\n") {
		parts := strings.Split(line, errorMarker)
		for _, p := range parts[1:] {
			want = append(want, fmt.Sprintf("%d: %s", i+1, strings.TrimSpace(p)))
		}
	}
	sort.Strings(want)
	return want
}

func gotErrors(diags hcl.Diagnostics) []string {
	var got []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		line := 0
		if d.Subject != nil {
			line = d.Subject.Start.Line
		}
		got = append(got, fmt.Sprintf("%d: %s", line, d.Summary))
	}
	sort.Strings(got)
	return got
}

// TestFixtures_invalid loads every testdata/config/invalid/*.hcl and checks
// that exactly the marked lines get a diagnostic with the marked summary,
// all in one run, and that nothing else errors.
func TestFixtures_invalid(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "testdata", "config", "invalid", "*.hcl"))
	if err != nil || len(paths) < 45 {
		t.Fatalf("want at least 45 invalid fixtures, found %d (%v)", len(paths), err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want := expectedErrors(t, path)
			if len(want) == 0 {
				t.Fatalf("fixture has no %q marker", errorMarker)
			}
			_, diags := Load(path, nil)
			got := gotErrors(diags)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("diagnostics differ\nwant:\n  %s\ngot:\n  %s\nfull:\n%s",
					strings.Join(want, "\n  "), strings.Join(got, "\n  "), diags.Error())
			}
			for _, d := range diags {
				if d.Subject == nil || d.Detail == "" || !strings.HasSuffix(strings.TrimSpace(d.Detail), ".") && !strings.HasSuffix(strings.TrimSpace(d.Detail), "?") {
					t.Errorf("diagnostic %q lacks a subject or a full-sentence detail: %q", d.Summary, d.Detail)
				}
			}
		})
	}
}

// TestFixtures_valid loads every testdata/config/valid entry (file or
// directory) and requires no diagnostics at all.
func TestFixtures_valid(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("..", "testdata", "config", "valid"))
	if err != nil || len(entries) == 0 {
		t.Fatalf("no valid fixtures: %v", err)
	}
	for _, e := range entries {
		path := filepath.Join("..", "testdata", "config", "valid", e.Name())
		t.Run(e.Name(), func(t *testing.T) {
			w, diags := Load(path, &LoadOptions{Getenv: func(string) string { return "" }})
			if len(diags) > 0 {
				t.Fatalf("diagnostics:\n%s", diags.Error())
			}
			if len(w.Order()) != len(w.Steps) {
				t.Fatalf("Order covers %d of %d steps", len(w.Order()), len(w.Steps))
			}
		})
	}
}

// TestExamples loads every directory under examples/; there may be none yet.
func TestExamples(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("..", "examples"))
	if os.IsNotExist(err) || (err == nil && len(entries) == 0) {
		t.Skip("no examples yet")
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			_, diags := Load(filepath.Join("..", "examples", e.Name()), nil)
			if diags.HasErrors() {
				t.Fatalf("example %s is invalid:\n%s", e.Name(), diags.Error())
			}
		})
	}
}
