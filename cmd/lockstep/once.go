package main

import (
	"fmt"
	"os"
)

func onceMain(args []string) int {
	fmt.Fprintln(os.Stderr, "lockstep: once is not implemented yet")
	return exitUsage
}
