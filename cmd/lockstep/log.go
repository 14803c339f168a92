package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// newLogger builds the root logger from LOCKSTEP_LOG, LOCKSTEP_LOG_FORMAT and
// LOCKSTEP_LOG_PATH (read through getenv); logs go to stderr (or the file),
// never to stdout. The returned func closes the log file.
//
// LOCKSTEP_LOG is trace, debug, info, warn or error; unset or "off" means no
// logs, as with Terraform's TF_LOG. LOCKSTEP_LOG_FORMAT=json writes one JSON
// object per line. LOCKSTEP_LOG_PATH appends to a file instead of stderr (and
// turns logging on at info level when LOCKSTEP_LOG is unset). Callers never
// pass tokens, passwords or sensitive values to the logger.
func newLogger(getenv func(string) string, stderr io.Writer) (hclog.Logger, func()) {
	levelName := strings.TrimSpace(getenv("LOCKSTEP_LOG"))
	path := getenv("LOCKSTEP_LOG_PATH")
	if levelName == "" && path != "" {
		levelName = "info"
	}
	if levelName == "" || strings.EqualFold(levelName, "off") {
		return hclog.NewNullLogger(), func() {}
	}
	level := hclog.LevelFromString(levelName)
	if level == hclog.NoLevel {
		fmt.Fprintf(stderr, "lockstep: LOCKSTEP_LOG=%q is not a level (trace, debug, info, warn, error); using info\n", levelName)
		level = hclog.Info
	}
	out := stderr
	closeFn := func() {}
	if path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			fmt.Fprintf(stderr, "lockstep: cannot open LOCKSTEP_LOG_PATH: %v; logging to stderr\n", err)
		} else {
			out = f
			closeFn = func() { f.Close() }
		}
	}
	jsonFormat := strings.EqualFold(getenv("LOCKSTEP_LOG_FORMAT"), "json")
	if jsonFormat {
		// hclog writes each line whole; its text format escapes values itself.
		out = safeJSONWriter{out}
	}
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       "lockstep",
		Level:      level,
		Output:     out,
		JSONFormat: jsonFormat,
		Color:      hclog.ColorOff,
	})
	return logger, closeFn
}
