package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runInProcess runs `lockstep ARGS...` through the dispatcher with a test
// env and returns the exit code and what it wrote.
func runInProcess(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	e, out, errOut := testEnv(nil)
	code = exitCode(dispatch(e, args))
	return code, out.String(), errOut.String()
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
		code, _, stderr := runInProcess(t, "validate", tc.path)
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
		code, stdout, _ := runInProcess(t, append([]string{"validate"}, tc.args...)...)
		if code != tc.code || !strings.Contains(stdout, tc.out) {
			t.Errorf("validate %v: exit %d stdout %q; want %d and %q", tc.args, code, stdout, tc.code, tc.out)
		}
	}
}
