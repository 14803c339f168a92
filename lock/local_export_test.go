package lock

import (
	"testing"
	"time"
)

// KillLocal makes a local locker act as if its process died: its tickets
// lose their locks without leaving their queues (Capabilities.Kill).
func KillLocal(t *testing.T, l Locker) { l.(*Local).kill() }

// SetLocalKeepIdle sets how long a local locker keeps the files of a key
// nobody uses (10 minutes unless set), and forgets when it last swept.
func SetLocalKeepIdle(l Locker, d time.Duration) {
	l.(*Local).gc.keepIdle = d
	l.(*Local).gc.nextSweep.Store(0)
}

// CollectLocal sweeps the lock directory now, whenever the last sweep was,
// without a time budget, and returns how many keys it removed.
func CollectLocal(l Locker) int {
	n, _ := l.(*Local).collect(time.Now(), 0)
	return n
}

// CollectLocalWithin sweeps as CollectLocal within budget, and says
// whether it completed.
func CollectLocalWithin(l Locker, budget time.Duration) (removed int, complete bool) {
	return l.(*Local).collect(time.Now(), budget)
}

// SetLocalHook makes a local locker call hook at points of its acquires:
// "opened" (a key's counter file is open, not locked yet), "chosen" (the
// counter is locked and the next fence chosen, its ticket not created) and
// "probe" (a MaxWaiters request listed the queue and is about to probe the
// waiters ahead of it).
func SetLocalHook(l Locker, hook func(stage string)) { l.(*Local).gc.hook = hook }

// SkipLocalCounterCheck turns off the check that an acquire's locked
// counter is still the key's (the canary of that check).
func SkipLocalCounterCheck(l Locker) { l.(*Local).gc.noCounterCheck = true }

// LocalKeyDir is the directory of key's files.
func LocalKeyDir(l Locker, key string) string { return l.(*Local).lockDir(key) }

// SetNoDoorbells makes newest-wins requests go without a doorbell, as when
// mkfifo fails, until restore is called.
func SetNoDoorbells(on bool) (restore func()) {
	saved := noDoorbells
	noDoorbells = on
	return func() { noDoorbells = saved }
}
