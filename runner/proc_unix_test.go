//go:build unix

package runner

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// processGone reports whether pid no longer exists (or is a zombie).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err != nil || strings.Contains(string(b), ") Z ")
}
