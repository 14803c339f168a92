package locktest

import "syscall"

// serverProcAttr makes a test server die with the test binary (Linux's
// parent-death signal), so a killed test leaves no redis-server behind.
func serverProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
