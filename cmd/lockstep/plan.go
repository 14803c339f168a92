package main

import (
	"fmt"
	"os"
)

func planMain(args []string) int {
	fmt.Fprintln(os.Stderr, "lockstep: plan is not implemented yet")
	return exitUsage
}
