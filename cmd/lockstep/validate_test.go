package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// captureOutput runs f with os.Stdout and os.Stderr sent to files and
// returns what it wrote. Tests using it must not run in parallel.
func captureOutput(t *testing.T, f func() int) (code int, stdout, stderr string) {
	t.Helper()
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	errf, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = out, errf
	defer func() { os.Stdout, os.Stderr = oldOut, oldErr }()
	code = f()
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	return code, string(o), string(e)
}

// TestValidate_hostile is the hcl-depth-bomb case of TESTING.md: 200 KB of
// nested parentheses and a 50 MB file each give a diagnostic and exit 2
// quickly, instead of overflowing HCL's stack or reading the whole file.
func TestValidate_hostile(t *testing.T) {
	dir := t.TempDir()
	bomb := filepath.Join(dir, "bomb.hcl")
	src := "locals {\n  x = " + strings.Repeat("(", 100_000) + "1" + strings.Repeat(")", 100_000) + "\n}\n"
	if err := os.WriteFile(bomb, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.hcl")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	chunk := []byte(strings.Repeat("# padding padding padding padding\n", 1<<10))
	for written := 0; written < 50<<20; written += len(chunk) {
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	cases := []struct{ path, want string }{
		{bomb, "Nesting too deep"},
		{big, "Workflow file too large"},
	}
	for _, tc := range cases {
		start := time.Now()
		code, _, stderr := captureOutput(t, func() int { return validateMain([]string{tc.path}) })
		elapsed := time.Since(start)
		t.Logf("%s: exit %d in %s", filepath.Base(tc.path), code, elapsed)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 and %q", tc.path, code, stderr, tc.want)
		}
		if elapsed > time.Second {
			t.Errorf("%s took %s, want < 1s", tc.path, elapsed)
		}
	}
}

func TestValidate_exitCodes(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.hcl")
	bad := filepath.Join(dir, "bad.hcl")
	os.WriteFile(good, []byte(`step "a" { shell = "true" }`), 0o644)
	os.WriteFile(bad, []byte(`step "a" { shell = step.a.output }`), 0o644)
	cases := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{good}, exitOK, "Success!"},
		{[]string{bad}, exitUsage, ""},
		{[]string{"-json", bad}, exitUsage, `"valid": false`},
		{[]string{"-help"}, exitOK, "Usage: lockstep validate"},
		{[]string{"-nope"}, exitUsage, ""},
		{[]string{filepath.Join(dir, "missing")}, exitUsage, ""},
	}
	for _, tc := range cases {
		code, stdout, _ := captureOutput(t, func() int { return validateMain(tc.args) })
		if code != tc.code || !strings.Contains(stdout, tc.out) {
			t.Errorf("validate %v: exit %d stdout %q; want %d and %q", tc.args, code, stdout, tc.code, tc.out)
		}
	}
}
