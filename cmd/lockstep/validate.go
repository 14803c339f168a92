package main

import (
	"fmt"
	"os"
)

func validateMain(args []string) int {
	fmt.Fprintln(os.Stderr, "lockstep: validate is not implemented yet")
	return exitUsage
}
