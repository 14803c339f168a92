//go:build unix

package lock

// SetBlockingDoorbells makes newest-wins doorbells wait in a blocking read,
// as they do on macOS, until restore is called.
func SetBlockingDoorbells(on bool) (restore func()) {
	saved := blockingBells
	blockingBells = on
	return func() { blockingBells = saved }
}
