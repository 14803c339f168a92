package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary act as the lockstep command (and as the
// helper programs scripts use) when testscript runs it under those names.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"lockstep": func() { os.Exit(Main()) },
		"teststep": func() { os.Exit(teststepMain(os.Args[1:])) },
	})
}

// TestScripts runs every testdata/script/*.txtar end-to-end script. Set
// LOCKSTEP_UPDATE_SCRIPTS=1 to rewrite their golden output in place.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testdata", "script"),
		Setup:               scriptSetup,
		Cmds:                scriptCmds(),
		UpdateScripts:       os.Getenv("LOCKSTEP_UPDATE_SCRIPTS") == "1",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
	})
}
