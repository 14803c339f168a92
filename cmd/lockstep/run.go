package main

import (
	"fmt"
	"os"
)

func runMain(args []string) int {
	fmt.Fprintln(os.Stderr, "lockstep: run is not implemented yet")
	return exitUsage
}
