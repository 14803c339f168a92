package main

import (
	"fmt"
	"os"
)

func fmtMain(args []string) int {
	fmt.Fprintln(os.Stderr, "lockstep: fmt is not implemented yet")
	return exitUsage
}
