package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lockstep-dev/lockstep/lock"
)

// TestExecResult: how exec's outcome maps to its exit status, -E included:
// a superseded waiter is a skip (0) unless -E says otherwise; busy is 3
// unless -E says otherwise; the command's own status passes through.
func TestExecResult(t *testing.T) {
	superseded := fmt.Errorf("acquire: %w", &lock.SupersededError{Key: "deploy", By: lock.Holder{Owner: "bob@ci-8", PID: 7}})
	busy := fmt.Errorf("acquire: %w", &lock.BusyError{Key: "deploy"})
	for _, tc := range []struct {
		name     string
		conflict codeFlag
		code     int
		err      error
		want     int
		note     string
	}{
		{"ok", codeFlag{}, 0, nil, 0, ""},
		{"command status", codeFlag{}, 7, nil, 7, ""},
		{"superseded", codeFlag{}, 0, superseded, 0, "superseded in the queue of \"deploy\" by bob@ci-8, pid 7"},
		{"superseded -E", codeFlag{code: 9, set: true}, 0, superseded, 9, "superseded"},
		{"busy", codeFlag{}, 0, busy, 3, ""},
		{"busy -E", codeFlag{code: 75, set: true}, 0, busy, 75, ""},
		{"lost ignores -E", codeFlag{code: 75, set: true}, 0, errLost, 4, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _, stderr := testEnv(nil)
			o := &execOptions{key: "deploy", conflict: tc.conflict}
			if got := exitCode(o.result(e, tc.code, tc.err)); got != tc.want {
				t.Errorf("exit %d, want %d", got, tc.want)
			}
			if !strings.Contains(stderr.String(), tc.note) {
				t.Errorf("stderr %q lacks %q", stderr, tc.note)
			}
		})
	}
}
