package stdio

import (
	"context"
	"fmt"
	"sync"

	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// CrashLoopFails is how many processes failing to start, failing their
// readiness ping, or exiting before they were asked to, between two health
// checks make a crash loop.
const CrashLoopFails = 3

// CrashLoopCheck returns an active health check for a stdio upstream
// (balance.Checker's signature): it fails when, since the check before,
// CrashLoopFails or more of the pool's processes failed to start, failed
// the spare check's ping, or exited on their own — a server that dies as
// it starts, a command that is gone, a program that does not speak MCP —
// and passes once that stops. It runs nothing itself: the
// processes the pool starts anyway are the probes.
func CrashLoopCheck() func(ctx context.Context, up upstream.Upstream) error {
	var (
		mu   sync.Mutex
		last = -1
	)
	return func(_ context.Context, up upstream.Upstream) error {
		s, ok := up.(*Upstream)
		if !ok {
			return nil
		}
		st := s.pool.Stats()
		failures := st.SpawnFailed + st.Crashed + st.ReadyFailed
		mu.Lock()
		prev := last
		last = failures
		mu.Unlock()
		if prev < 0 {
			return nil // the first check sets the baseline
		}
		if n := failures - prev; n >= CrashLoopFails {
			return fmt.Errorf("crash loop: %d processes failed to start, failed their readiness ping or exited on their own since the last check", n)
		}
		return nil
	}
}
