//go:build unix

package lock

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDoorbell_blockingReallyBlocks: under blockingBells (as on macOS) the
// doorbell's descriptor is in blocking mode. It was opened O_NONBLOCK, which
// os keeps (it only undoes what it did itself), so on macOS the read failed
// at once with EAGAIN, and on Linux the "blocking" doorbells still went
// through the poller: TestLocal_conformanceBlockingDoorbells could not fail
// for macOS's reason.
func TestDoorbell_blockingReallyBlocks(t *testing.T) {
	for _, blocking := range []bool{false, true} {
		saved := blockingBells
		blockingBells = blocking
		b, err := newDoorbell(filepath.Join(t.TempDir(), "b1"))
		blockingBells = saved
		if err != nil {
			t.Fatal(err)
		}
		if b.blocking != blocking {
			t.Errorf("blockingBells %v: the doorbell says blocking %v", blocking, b.blocking)
		}
		if blocking {
			flags, err := unix.FcntlInt(b.f.Fd(), unix.F_GETFL, 0)
			if err != nil {
				t.Fatal(err)
			}
			if flags&unix.O_NONBLOCK != 0 {
				t.Error("a blocking doorbell's descriptor is O_NONBLOCK: its read fails at once")
			}
		}
		ring(b.path)
		select {
		case <-b.rang:
		case <-time.After(5 * time.Second):
			t.Fatalf("blocking %v: a ring did not reach the doorbell", blocking)
		}
		b.close()
	}
}

// TestDoorbell_closeEndsBlockingReadWhenPathGone: close ends a blocking
// read even when the FIFO's path is gone (a lock directory removed under a
// waiter). It rang the bell through its path, which then failed, and a
// thread and a descriptor stayed blocked for the life of the process.
func TestDoorbell_closeEndsBlockingReadWhenPathGone(t *testing.T) {
	saved := blockingBells
	blockingBells = true
	defer func() { blockingBells = saved }()
	dir := t.TempDir()
	b, err := newDoorbell(filepath.Join(dir, "b1"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the listener is in its read
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	b.close()
	select {
	case <-b.read:
	case <-time.After(5 * time.Second):
		t.Fatal("the doorbell's blocking read still waits after close")
	}
	select {
	case <-b.rang:
		t.Error("close rang the doorbell for its waiter")
	default:
	}
}
