// Package locktest holds what proves a lock backend: the conformance suite
// (Run: one set of cases, from mutual exclusion, fencing and FIFO hand-off to
// shared and exclusive modes, newest-wins queues, max_waiters, positions and
// deadlocks between runs, each skipped with a logged reason when a backend's
// Capabilities do not claim it) and the real things the tests of lock and of the CLI run against:
// private redis-servers (StartServer, with Restrict for refusing users),
// a Sentinel pair (StartSentinel), a three-master Cluster (StartCluster) and
// a fault-injecting TCP proxy (StartProxy, Shopify's toxiproxy in-process).
//
// It never mocks Redis and never uses a shared server: every server is
// started for one test on a free loopback port (or a unix socket), without
// persistence, and stopped in the test's Cleanup. Without redis-server the
// tests fail with install instructions; LOCKSTEP_SKIP_REDIS=1 skips them.
// It depends on lock (the interface under test) and on test-only libraries;
// nothing but tests imports it.
package locktest
