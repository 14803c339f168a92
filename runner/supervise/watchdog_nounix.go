//go:build !unix

package supervise

import (
	"io"

	"github.com/hashicorp/go-hclog"
)

// EnableWatchdog does nothing here: on Windows a command's Job Object dies
// with lockstep without a watchdog, and other systems have none. It exists so
// that callers need no build tags.
func EnableWatchdog(hclog.Logger) {}

// WatchdogMain returns 0 at once: there is no watchdog on this system (see
// EnableWatchdog).
func WatchdogMain(io.Reader) int { return 0 }
