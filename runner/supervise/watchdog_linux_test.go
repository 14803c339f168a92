package supervise

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// asMacOS makes this process supervise as on macOS: no parent-death signal
// for the commands, the watchdog started before the first one.
func asMacOS() {
	childDeathSignal = 0
	watchdogDelay = 0
}

// ignores reports whether process pid ignores every one of sigs, as
// /proc/PID/status says; known is false when it cannot be read.
func ignores(pid int, sigs ...syscall.Signal) (ok, known bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false, false
	}
	for line := range strings.Lines(string(b)) {
		if hex, found := strings.CutPrefix(line, "SigIgn:"); found {
			mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil {
				return false, false
			}
			for _, sig := range sigs {
				if mask&(1<<(sig-1)) == 0 {
					return false, true
				}
			}
			return true, true
		}
	}
	return false, false
}
