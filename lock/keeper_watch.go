package lock

// LossWatcher is implemented by a Renewer that learns by itself, between
// renewals, that a lease is lost (the local backend watches its lock files:
// a removed lock directory is noticed within about 100 ms, not at the next
// renewal). Keep uses it when the Renewer it is given implements it.
type LossWatcher interface {
	// Lost returns a channel that receives an error wrapping ErrNotHeld
	// when the lease of token on key is found lost. It receives at most
	// once and is never closed; it never receives for a lease released
	// through the backend. For a lease the backend does not know it may
	// receive at once.
	Lost(key, token string) <-chan error
}

// lossSignal is r's loss channel for lease, or nil (never ready) when r
// does not watch for losses.
func lossSignal(r Renewer, lease *Lease) <-chan error {
	if w, ok := r.(LossWatcher); ok {
		return w.Lost(lease.Key, lease.Token)
	}
	return nil
}
