package main

import (
	"bytes"
	"context"
	"strings"
)

// testEnv returns an env for running commands in process: empty stdin, no
// terminal, the given environment (NAME=value) and no signal handler.
func testEnv(environ []string) (e *env, stdout, stderr *bytes.Buffer) {
	stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}
	lookup := func(name string) string {
		for _, kv := range environ {
			if k, v, ok := strings.Cut(kv, "="); ok && k == name {
				return v
			}
		}
		return ""
	}
	e = &env{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr, getenv: lookup,
		osEnviron: func() []string { return environ }, ctx: context.Background()}
	return e, stdout, stderr
}
