package remote

import (
	"sync"
	"time"
)

// workerIdle is how long a goroutine that ran a conn's task waits for the
// next before it ends.
const workerIdle = 500 * time.Millisecond

// workers reuse the goroutines that run the conns' tasks (one per POST):
// a goroutine's stack grows through the HTTP client and the message scan
// to some kilobytes, and growing a fresh goroutine's stack by copying was
// 7% of the CPU of a proxied call (issue 27's profile of caddy-mcp → HTTP).
// A finished task's goroutine waits workerIdle for the next one instead.
type workers struct {
	jobs     chan func() // unbuffered: taken only by a worker waiting for it
	quit     chan struct{}
	quitOnce sync.Once
}

func newWorkers() workers {
	return workers{jobs: make(chan func()), quit: make(chan struct{})}
}

// goTracked runs f in a goroutine that Wait waits for: an idle worker, or
// a new one.
func (h *HTTP) goTracked(f func()) {
	h.wg.Add(1) // the task
	select {
	case h.jobs <- f:
	default:
		h.wg.Add(1) // the worker
		go h.work(f)
	}
}

// work runs f, then the tasks handed to it, until it has been idle for
// workerIdle or Wait lets the idle workers go.
func (h *HTTP) work(f func()) {
	defer h.wg.Done()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		f()
		h.wg.Done()
		idle.Reset(workerIdle)
		select {
		case f = <-h.jobs:
		case <-idle.C:
			return
		case <-h.quit:
			return
		}
	}
}

// Wait blocks until every goroutine of every connection opened so far has
// returned: requests, streams and the DELETEs of closed sessions. Idle
// workers end at once (from then on each task's goroutine ends with it).
func (h *HTTP) Wait() {
	h.quitOnce.Do(func() { close(h.quit) })
	h.wg.Wait()
}
