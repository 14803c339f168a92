package main

import (
	"fmt"
	"os"
)

func forceUnlockMain(args []string) int {
	fmt.Fprintln(os.Stderr, "lockstep: forceunlock is not implemented yet")
	return exitUsage
}
