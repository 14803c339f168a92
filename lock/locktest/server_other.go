//go:build !linux

package locktest

import "syscall"

// serverProcAttr has no parent-death signal to offer outside Linux: a killed
// test binary may leave its redis-server running until the machine cleans up.
func serverProcAttr() *syscall.SysProcAttr { return nil }
