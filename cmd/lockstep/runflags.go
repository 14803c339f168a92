package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/lockstep-dev/lockstep/config"
)

// workflowFlags are the flags plan and run share: -var, -var-file, -target,
// -json and -backend.
type workflowFlags struct {
	vars    []config.VarArg // -var and -var-file in the order given
	targets []string
	json    bool
	backend string
}

func (f *workflowFlags) register(fs *flag.FlagSet) {
	fs.Func("var", "set a variable: -var 'NAME=VALUE' (repeatable)", func(s string) error {
		if !strings.Contains(s, "=") {
			return fmt.Errorf("expected NAME=VALUE, got %q", s)
		}
		f.vars = append(f.vars, config.VarArg{Value: s})
		return nil
	})
	fs.Func("var-file", "read variables from an HCL file of attributes (repeatable)", func(s string) error {
		f.vars = append(f.vars, config.VarArg{File: true, Value: s})
		return nil
	})
	fs.Func("target", "plan or run only this step (step.NAME or step.NAME[\"key\"]) and its dependencies (repeatable)", func(s string) error {
		f.targets = append(f.targets, s)
		return nil
	})
	fs.BoolVar(&f.json, "json", false, "write machine-readable JSON to stdout, one object per line")
	fs.StringVar(&f.backend, "backend", "", "backend URL (redis://, rediss://, unix://, local://); overrides LOCKSTEP_BACKEND and the workflow's backend block")
}

// loadForRun loads the workflow and resolves its variables (the environment's
// LOCKSTEP_VAR_* included). It prints diagnostics through out and returns
// ok=false on any error.
func loadForRun(e *env, path string, f *workflowFlags, out diagWriter) (*config.Workflow, map[string]cty.Value, bool) {
	wf, diags := config.Load(path, nil)
	if diags.HasErrors() || wf == nil {
		out.diagnostics(wf, diags)
		return nil, nil, false
	}
	vars, vdiags := wf.ResolveVariables(config.VariableInputs{Environ: e.osEnviron(), Args: f.vars})
	diags = append(diags, vdiags...)
	if len(diags) > 0 {
		out.diagnostics(wf, diags)
	}
	if diags.HasErrors() {
		return nil, nil, false
	}
	return wf, vars, true
}
