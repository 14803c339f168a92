package main

import (
	"fmt"
	"os"
)

func execMain(args []string) int {
	fmt.Fprintln(os.Stderr, "lockstep: exec is not implemented yet")
	return exitUsage
}
