package main

import (
	"runtime"
	"slices"
	"strings"

	"github.com/lockstep-dev/lockstep/config"
)

// credentialEnv lists the environment variables lockstep reads for its own
// credentials, which the commands it starts never inherit (docs/cli.md,
// "What steps inherit"): LOCKSTEP_BACKEND, whose URL may hold a password.
// childEnviron adds, for a workflow, the variables its backend block reads
// for a password and LOCKSTEP_VAR_<name> of its sensitive variables.
var credentialEnv = []string{"LOCKSTEP_BACKEND"}

// childEnviron returns environ (NAME=value entries) without lockstep's
// credentials: credentialEnv and, when wf is not nil, the names of its
// backend block's SecretEnv and LOCKSTEP_VAR_<name> of every variable it
// declares sensitive. It is the base environment of steps (run), of exec's
// command, and what env() reads in a step's body. environ is not modified.
func childEnviron(environ []string, wf *config.Workflow) []string {
	return dropEnv(environ, secretNames(wf))
}

// dropEnv returns environ without the variables named in drop.
func dropEnv(environ, drop []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.ContainsFunc(drop, func(d string) bool { return sameEnvName(d, name) }) {
			out = append(out, kv)
		}
	}
	return out
}

// secretNames lists the variables childEnviron drops for wf (nil: none but
// credentialEnv).
func secretNames(wf *config.Workflow) []string {
	names := slices.Clone(credentialEnv)
	if wf == nil {
		return names
	}
	if wf.Settings != nil && wf.Settings.Backend != nil {
		names = append(names, wf.Settings.Backend.SecretEnv...)
	}
	for name, v := range wf.Variables {
		if v.Sensitive {
			names = append(names, config.EnvVarPrefix+name)
		}
	}
	return names
}

// sameEnvName compares variable names as the OS does: without case on
// Windows.
func sameEnvName(a, b string) bool {
	if runtime.GOOS == "windows" {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// lookupEnv returns a getenv over environ: the last entry for a name wins,
// as in the process environment; unset is "".
func lookupEnv(environ []string) func(string) string {
	return func(name string) string {
		for i := len(environ) - 1; i >= 0; i-- {
			if k, v, ok := strings.Cut(environ[i], "="); ok && sameEnvName(k, name) {
				return v
			}
		}
		return ""
	}
}
