package main

// Owner: lock CLI work (issue 3): redis-start, redis, wait-key and the other
// custom script commands live here.

import "github.com/rogpeppe/go-internal/testscript"

func scriptSetup(env *testscript.Env) error {
	// Keep scripts away from any developer or CI setting.
	env.Setenv("LOCKSTEP_BACKEND", "")
	env.Setenv("NO_COLOR", "1")
	// The local backend's default directory then lands under the script's
	// own TMPDIR.
	env.Setenv("XDG_RUNTIME_DIR", "")
	return nil
}

func scriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){}
}
