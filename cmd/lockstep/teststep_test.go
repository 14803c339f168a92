package main

// Owner: lock CLI work (issue 3). teststep is the portable step program that
// scripts run as a workflow command: sleep, exit N, print, touch, record
// enter/exit with the fencing token.

import (
	"fmt"
	"os"
)

func teststepMain(args []string) int {
	fmt.Fprintln(os.Stderr, "teststep: not implemented yet")
	return 2
}
