package main

import (
	"context"
	"errors"

	"github.com/lockstep-dev/lockstep/lock"
	"github.com/lockstep-dev/lockstep/runner"
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
	return st.keep(key, li), true
}

// keep records what the backend said about key.
func (st *planState) keep(key string, li lock.LockInfo) lockState {
	if li.Holders == nil {
		li.Holders = []lock.Holder{}
	}
	st.Locks[key] = lockState{Holders: li.Holders, Queue: li.Queue}
	return st.Locks[key]
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

// planWindow is how many step instances plan evaluates before it reads
// their locks and once markers from the backend, together.
const planWindow = 256

// prefetch reads the holders of every known lock key of pis and their once
// markers that holders and once have not seen yet, in as few round trips as
// the backend allows. An error marks the backend unreachable, as one read
// would.
func (st *planState) prefetch(pis []*runner.PreviewInstance) {
	if !st.Reachable {
		return
	}
	var lockKeys, onceKeys []string
	seen := map[string]bool{}
	for _, pi := range pis {
		for _, l := range pi.Locks {
			if k := l.Key().Raw; k != "" && !seen["l"+k] {
				if _, done := st.Locks[k]; !done {
					seen["l"+k] = true
					lockKeys = append(lockKeys, k)
				}
			}
		}
		if k := pi.OnceKey(); k != nil && k.Raw != "" && !seen["o"+k.Raw] {
			if _, done := st.Onces[k.Raw]; !done {
				seen["o"+k.Raw] = true
				onceKeys = append(onceKeys, k.Raw)
			}
		}
	}
	lis, err := lock.ShowMany(st.ctx, st.locker, lockKeys)
	if err != nil {
		st.unreachable(err)
		return
	}
	for i, li := range lis {
		st.keep(lockKeys[i], li)
	}
	recs, err := lock.OnceMany(st.ctx, st.locker, onceKeys)
	if err != nil {
		st.unreachable(err)
		return
	}
	for i, rec := range recs {
		st.Onces[onceKeys[i]] = rec
	}
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
