//go:build unix && !linux

package supervise

import "syscall"

// asMacOS: here commands have no parent-death signal and the watchdog starts
// before the first one already.
func asMacOS() {}

// ignores cannot tell without /proc: known is false.
func ignores(int, ...syscall.Signal) (ok, known bool) { return false, false }
