package lock

import "testing"

// KillLocal makes a local locker act as if its process died: its tickets
// lose their locks without leaving their queues (Capabilities.Kill).
func KillLocal(t *testing.T, l Locker) { l.(*Local).kill() }
