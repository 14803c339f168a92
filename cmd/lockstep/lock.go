package main

import (
	"fmt"
	"os"
)

func lockMain(args []string) int {
	fmt.Fprintln(os.Stderr, "lockstep: lock is not implemented yet")
	return exitUsage
}
