package main

import (
	"os"
	"strconv"
	"strings"

	"github.com/lockstep-dev/lockstep/lock"
)

// processHolder describes this process as a lock holder: user@host, pid and
// LOCKSTEP_HOLDER_INFO (e.g. a CI job URL), read through getenv. Callers add
// the run id, step and workflow. It never fails: unknown parts are left out
// or guessed.
func processHolder(getenv func(string) string) lock.Holder {
	return lock.Holder{
		Owner: currentUser(getenv) + "@" + hostname(),
		PID:   os.Getpid(),
		Info:  getenv("LOCKSTEP_HOLDER_INFO"),
	}
}

// currentUser is $USER or $LOGNAME, else $USERNAME (Windows), else the
// account name in /etc/passwd, else the numeric uid. It reads /etc/passwd
// directly rather than through os/user, whose cgo path (nscd, nsswitch) costs
// a short-lived exec more than its whole lock round trip.
func currentUser(getenv func(string) string) string {
	for _, v := range []string{"USER", "LOGNAME", "USERNAME"} {
		if u := getenv(v); u != "" {
			return u
		}
	}
	uid := strconv.Itoa(os.Getuid())
	if b, err := os.ReadFile("/etc/passwd"); err == nil {
		for line := range strings.Lines(string(b)) {
			f := strings.SplitN(line, ":", 4)
			if len(f) == 4 && f[2] == uid && f[0] != "" {
				return f[0]
			}
		}
	}
	return uid
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}

// newRunID returns a fresh run id: 16 hex digits from crypto/rand.
func newRunID() string { return lock.NewToken()[:16] }
