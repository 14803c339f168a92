package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

const versionHelp = `  Print the lockstep version, the platform and the Go version it was built
  with. It takes no arguments.`

func versionMain(args []string) int {
	fs := newFlagSet("version", "version", versionHelp)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		return usageFail(fs, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	v := version
	if v == "" {
		v = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			v = bi.Main.Version
		}
	}
	fmt.Fprintf(os.Stdout, "lockstep %s %s/%s %s\n", v, runtime.GOOS, runtime.GOARCH, runtime.Version())
	return exitOK
}
