package main

import (
	"os"
	"os/user"
	"strconv"

	"github.com/lockstep-dev/lockstep/lock"
)

// processHolder describes this process as a lock holder: user@host, pid and
// LOCKSTEP_HOLDER_INFO (e.g. a CI job URL). Callers add the run id, step and
// workflow. It never fails: unknown parts are left out or guessed.
func processHolder() lock.Holder {
	return lock.Holder{
		Owner: currentUser() + "@" + hostname(),
		PID:   os.Getpid(),
		Info:  os.Getenv("LOCKSTEP_HOLDER_INFO"),
	}
}

// currentUser is $USER, else the account name, else the numeric uid.
func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
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
