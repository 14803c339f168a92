package runner

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// previewBatch is how many instances PreviewEach evaluates together.
const previewBatch = 64

// previewBatcher evaluates queued instances in parallel and hands them out
// in the order they were queued.
type previewBatcher struct {
	jobs []func() *PreviewInstance
	out  func(*PreviewInstance)
}

func (b *previewBatcher) add(job func() *PreviewInstance) {
	if b.jobs = append(b.jobs, job); len(b.jobs) == previewBatch {
		b.flush()
	}
}

func (b *previewBatcher) flush() {
	res := make([]*PreviewInstance, len(b.jobs))
	workers := min(runtime.GOMAXPROCS(0), len(b.jobs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(b.jobs); i = int(next.Add(1) - 1) {
				res[i] = b.jobs[i]()
			}
		})
	}
	wg.Wait()
	b.jobs = b.jobs[:0]
	for _, pi := range res {
		b.out(pi)
	}
}
