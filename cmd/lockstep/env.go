package main

import (
	"context"
	"errors"
	"io"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/term"
)

// env is the world a command sees: its streams, its environment, the
// working directory switch and the context that the first stop signal
// cancels. Main builds the one of the process; tests build their own with
// buffers. Below Main nothing reaches for os.Stdout, os.Stderr or os.Getenv.
type env struct {
	stdin  io.Reader
	stdout io.Writer // lockstep's own output: JSON, tables, step output of run
	stderr io.Writer // progress, diagnostics, errors
	getenv func(string) string
	// osEnviron is the process's whole environment (os.Environ). What
	// lockstep passes to the commands it starts is environ's.
	osEnviron func() []string
	chdir     func(string) error // -chdir; nil refuses it
	// ctx is cancelled by the first stop signal (its cause a *signalError)
	// once signals are watched; it never ends otherwise.
	ctx context.Context
	sig *signals // nil while no signals are watched
	// watch starts the signal handler (Main's: watchSignals); nil never
	// watches (tests). The dispatcher calls it only for commands that run
	// others or talk to a backend: a signal handler costs a thread and its
	// wake-ups at start-up and exit, which validate, fmt or version need not
	// pay (they end as any Unix tool on a signal or a broken pipe).
	watch func() *signals
	term  terminal
	// noColor is -no-color (before the command or among its flags).
	noColor bool
}

// terminal says which streams are terminals.
type terminal struct {
	stdin, stdout, stderr bool
	// width returns stderr's width in columns (0 when unknown); nil when
	// stderr is not a terminal. x/term is only asked when it is one.
	width func() int
	// dumb is TERM=dumb: a terminal that cannot redraw a line in place.
	dumb bool
}

// detectTerminal inspects the process's streams.
func detectTerminal(stdin, stdout, stderr *os.File, getenv func(string) string) terminal {
	t := terminal{
		stdin:  term.IsTerminal(int(stdin.Fd())),
		stdout: term.IsTerminal(int(stdout.Fd())),
		stderr: term.IsTerminal(int(stderr.Fd())),
		dumb:   getenv("TERM") == "dumb",
	}
	if t.stderr {
		fd := int(stderr.Fd())
		t.width = func() int {
			w, _, err := term.GetSize(fd)
			if err != nil {
				return 0
			}
			return w
		}
	}
	return t
}

// environ is the environment the commands lockstep starts inherit: the
// process's, without lockstep's own credentials (childEnviron with no
// workflow; run drops its workflow's too).
func (e *env) environ() []string { return childEnviron(e.osEnviron(), nil) }

// statusTTY reports whether progress may be redrawn in place on stderr.
func (e *env) statusTTY() bool { return e.term.stderr && !e.term.dumb }

// colour reports whether diagnostics on stderr may use colour: a terminal,
// no -no-color and no NO_COLOR.
func (e *env) colour() bool {
	return e.term.stderr && !e.noColor && e.getenv("NO_COLOR") == ""
}

// logger builds the root logger (log.go) and returns it with its closer.
func (e *env) logger() (hclog.Logger, func()) { return newLogger(e.getenv, e.stderr) }

// pipeWriter writes through to w until a write fails because the reader
// went away (EPIPE: `lockstep run | head`), then drops every later write.
// A broken stdout must never stop lockstep from stopping its steps and
// releasing its locks; the SIGPIPE that comes with it is a stop signal
// (signals.go).
type pipeWriter struct {
	w      io.Writer
	broken atomic.Bool
}

func (p *pipeWriter) Write(b []byte) (int, error) {
	if p.broken.Load() {
		return len(b), nil
	}
	n, err := p.w.Write(b)
	if err != nil && errors.Is(err, syscall.EPIPE) {
		p.broken.Store(true)
		return len(b), nil
	}
	return n, err
}

// childStream returns the stream a child process should get for w: the
// file under a pipeWriter, so the child writes to it directly.
func childStream(w io.Writer) io.Writer {
	if p, ok := w.(*pipeWriter); ok {
		return p.w
	}
	return w
}

// watchSignals starts the signal handler, once, and makes ctx its context.
func (e *env) watchSignals() {
	if e.watch == nil || e.sig != nil {
		return
	}
	e.sig = e.watch()
	e.ctx = e.sig.ctx
}
