package main

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestSignals_stalledOutputDoesNotHoldTheStop: the first stop signal stops
// the run even when its message cannot be written (stdout or stderr stalled:
// a paused terminal, a pager that stopped reading). Before the fix the
// message was written first, and a stalled output kept the run going, with
// its locks, for as long as it stalled.
func TestSignals_stalledOutputDoesNotHoldTheStop(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	s := &signals{ctx: ctx, cancel: cancel, again: make(chan os.Signal, 1)}
	stalled := make(chan struct{})
	defer close(stalled)
	s.onStop(func(os.Signal) { <-stalled }, nil)
	go s.handle(syscall.SIGTERM)
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the run was not stopped while the interrupt message could not be written")
	}
	if se := s.received(); se == nil || se.code() != 143 {
		t.Errorf("received %v, want SIGTERM (exit 143)", se)
	}
}
