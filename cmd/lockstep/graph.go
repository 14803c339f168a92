package main

import (
	"fmt"
	"os"
)

func graphMain(args []string) int {
	fmt.Fprintln(os.Stderr, "lockstep: graph is not implemented yet")
	return exitUsage
}
