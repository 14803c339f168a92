package main

import (
	"context"
	"errors"

	"github.com/lockstep-dev/lockstep/lock"
)

func (st *planState) close() {
	if st.locker != nil {
		st.locker.Close()
	}
	st.cancel()
}

// holders returns who holds key now and who waits for it; ok is false when
// that is not known.
func (st *planState) holders(key string) (lockState, bool) {
	if ls, seen := st.Locks[key]; seen {
		return ls, true
	}
	if !st.Reachable || key == "" {
		return lockState{}, false
	}
	li, err := st.locker.Show(st.ctx, key)
	if err != nil {
		st.unreachable(err)
		return lockState{}, false
	}
	if li.Holders == nil {
		li.Holders = []lock.Holder{}
	}
	st.Locks[key] = lockState{Holders: li.Holders, Queue: li.Queue}
	return st.Locks[key], true
}

// once returns the once marker of key; ok is false when that is not known.
func (st *planState) once(key string) (*lock.OnceRecord, bool) {
	if rec, seen := st.Onces[key]; seen {
		return rec, true
	}
	if !st.Reachable || key == "" {
		return nil, false
	}
	rec, err := st.locker.Once(st.ctx, key)
	if err != nil {
		st.unreachable(err)
		return nil, false
	}
	st.Onces[key] = rec
	return rec, true
}

// unreachable records why the backend does not answer (the first reason).
func (st *planState) unreachable(err error) {
	if st.err != nil {
		return
	}
	st.Reachable, st.err, st.Error = false, err, safeLines(err.Error())
	if errors.Is(err, context.DeadlineExceeded) {
		st.Error = "no answer within " + backendQueryTimeout.String()
	}
}
