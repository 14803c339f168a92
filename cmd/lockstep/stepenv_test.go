package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lockstep-dev/lockstep/config"
)

// TestChildEnviron: LOCKSTEP_BACKEND always goes; with a workflow, so do the
// variables its backend block read for a password and LOCKSTEP_VAR_ of its
// sensitive variables; everything else stays, in order.
func TestChildEnviron(t *testing.T) {
	dir := t.TempDir()
	src := `
lockstep {
  backend "redis" {
    url      = "redis://${env("REDIS_HOST")}:6379"
    password = env("REDIS_PW")
  }
}
variable "token" {
  type      = string
  sensitive = true
}
variable "env" { type = string }
step "a" { command = ["true"] }
`
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	environ := []string{"PATH=/bin", "LOCKSTEP_BACKEND=redis://:pw@h:1", "REDIS_HOST=h", "REDIS_PW=pw",
		"LOCKSTEP_VAR_token=t0k", "LOCKSTEP_VAR_env=staging", "LOCKSTEP_LOG=debug", "HOME=/home/x"}
	wf, diags := config.Load(dir, &config.LoadOptions{Getenv: lookupEnv(environ)})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if got, want := childEnviron(environ, nil), slices.Delete(slices.Clone(environ), 1, 2); !slices.Equal(got, want) {
		t.Errorf("without a workflow: %q, want %q", got, want)
	}
	want := []string{"PATH=/bin", "REDIS_HOST=h", "LOCKSTEP_VAR_env=staging", "LOCKSTEP_LOG=debug", "HOME=/home/x"}
	if got := childEnviron(environ, wf); !slices.Equal(got, want) {
		t.Errorf("with the workflow: %q, want %q", got, want)
	}
	if environ[1] != "LOCKSTEP_BACKEND=redis://:pw@h:1" {
		t.Errorf("childEnviron changed its argument: %q", environ)
	}
	if got := lookupEnv(childEnviron(environ, wf))("REDIS_PW"); got != "" {
		t.Errorf("env(\"REDIS_PW\") in a step body = %q, want \"\"", got)
	}
}
