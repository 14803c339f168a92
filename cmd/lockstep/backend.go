package main

// Owner: lock CLI work (issue 3). Placeholder until the real resolver lands.

import (
	"context"
	"errors"

	"github.com/hashicorp/go-hclog"

	"github.com/lockstep-dev/lockstep/config"
	"github.com/lockstep-dev/lockstep/lock"
)

// openLocker resolves and opens the backend, first match wins: flagURL (the
// -backend flag), LOCKSTEP_BACKEND, the workflow's backend block b (may be
// nil), else the local backend in the per-user default directory. It returns
// the locker and a description of the backend for display with any password
// redacted. Errors wrap lock.ErrUnavailable when the backend cannot be reached,
// and are usage errors (exit 2) when the URL or block is malformed.
func openLocker(ctx context.Context, flagURL string, b *config.Backend, logger hclog.Logger) (lock.Locker, string, error) {
	return nil, "", errors.New("backends are not implemented yet")
}
