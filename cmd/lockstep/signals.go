package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// stopMessageWait bounds how long the first stop signal waits for its
// message to be written before the stop starts anyway.
const stopMessageWait = time.Second

// signalError is the cancellation cause of env.ctx after a stop signal.
type signalError struct{ sig os.Signal }

func (e *signalError) Error() string { return "interrupted by " + e.sig.String() }

// code is the exit status for the signal: 128 + its number (130 SIGINT, 143
// SIGTERM, 129 SIGHUP, 131 SIGQUIT, 141 SIGPIPE).
func (e *signalError) code() int {
	if n, ok := e.sig.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return exitInterrupt
}

// signals is lockstep's one signal handler. The first stop signal
// (stopSignals: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE on Unix; SIGHUP
// and SIGINT ignored when lockstep started stay ignored) cancels
// ctx with a *signalError cause: running commands are stopped gracefully,
// every lock is released, and lockstep exits 128+n. A later one (other than
// SIGPIPE, which every write to a broken stdout may raise again) kills the
// commands at once. Notifying SIGPIPE also makes a write to a broken stdout
// fail with EPIPE instead of killing lockstep (pipeWriter drops them).
type signals struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	first  atomic.Pointer[signalError]
	again  chan os.Signal // later signals, for exec's killOnSecondSignal
	resize chan struct{}  // the terminal was resized (SIGWINCH)
	ch     chan os.Signal
	done   chan struct{}

	mu      sync.Mutex
	onFirst func(sig os.Signal) // says what happens now (the interrupt message)
	kill    func()              // kills the commands at once
}

// watchSignals starts the handler.
func watchSignals() *signals {
	ctx, cancel := context.WithCancelCause(context.Background())
	s := &signals{ctx: ctx, cancel: cancel, again: make(chan os.Signal, 1), resize: make(chan struct{}, 1),
		ch: make(chan os.Signal, 4), done: make(chan struct{})}
	signal.Notify(s.ch, append(caughtStopSignals(), resizeSignals...)...)
	go s.loop()
	return s
}

// caughtStopSignals is stopSignals without those lockstep's parent set to be
// ignored (nohup ignores SIGHUP; a non-interactive shell starts background
// jobs with SIGINT ignored): Notify would catch them again, and a lockstep
// under nohup would stop when its terminal closed. Go's runtime keeps only
// SIGHUP and SIGINT ignored as it found them (signal.Ignored reports the
// others as caught); SIGPIPE is caught in any case, so that a broken stdout
// still stops lockstep.
func caughtStopSignals() []os.Signal {
	var caught []os.Signal
	for _, sig := range stopSignals {
		if isPipe(sig) || !signal.Ignored(sig) {
			caught = append(caught, sig)
		}
	}
	return caught
}

func (s *signals) loop() {
	for {
		select {
		case sig := <-s.ch:
			s.handle(sig)
		case <-s.done:
			return
		}
	}
}

// handle acts on one signal.
func (s *signals) handle(sig os.Signal) {
	if isResize(sig) {
		select {
		case s.resize <- struct{}{}:
		default:
		}
		return
	}
	se := &signalError{sig}
	if s.first.CompareAndSwap(nil, se) {
		s.mu.Lock()
		onFirst := s.onFirst
		s.mu.Unlock()
		if onFirst == nil {
			s.cancel(se)
			return
		}
		// Said before the stop starts, so that it comes before what
		// stopping prints; but a stalled output (a paused terminal, a pager
		// that stopped reading) must not hold up the stop, nor a second
		// signal's kill: this goroutine waits, not the loop.
		said := make(chan struct{})
		go func() { onFirst(sig); close(said) }()
		go func() {
			t := time.NewTimer(stopMessageWait)
			defer t.Stop()
			select {
			case <-said:
			case <-t.C:
			}
			s.cancel(se)
		}()
		return
	}
	if isPipe(sig) {
		return
	}
	s.mu.Lock()
	kill := s.kill
	s.mu.Unlock()
	if kill != nil {
		kill()
	}
	select {
	case s.again <- sig:
	default:
	}
}

// stop restores default signal handling (nothing for nil).
func (s *signals) stop() {
	if s == nil {
		return
	}
	signal.Stop(s.ch)
	close(s.done)
	s.cancel(nil)
}

// received returns the first stop signal, nil before one.
func (s *signals) received() *signalError {
	if s == nil {
		return nil
	}
	return s.first.Load()
}

// onStop sets what the first signal says (msg) and what a second one does
// (kill); either may be nil. Commands that run others (run, exec) set them.
func (s *signals) onStop(msg func(os.Signal), kill func()) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onFirst, s.kill = msg, kill
}

// againChan is the channel of later signals, or nil without a handler.
func (s *signals) againChan() <-chan os.Signal {
	if s == nil {
		return nil
	}
	return s.again
}

// resized receives when the terminal was resized; nil without a handler.
func (s *signals) resized() <-chan struct{} {
	if s == nil {
		return nil
	}
	return s.resize
}
