package balance

import (
	"context"
	"fmt"
	"time"
)

// checker is a member's loop of active health checks.
type checker struct {
	interval time.Duration
	cancel   context.CancelFunc
	done     chan struct{}
}

// StartChecks runs the member's active checks every HealthConfig.Interval
// from now on, the first one at once; it replaces a loop of another
// interval and stops the loop when the interval is now 0. Idempotent.
func (m *Member) StartChecks() {
	m.mu.Lock()
	interval, check := m.health.Interval, m.health.Check
	old := m.checker
	if old != nil && old.interval == interval && check != nil {
		m.mu.Unlock()
		return
	}
	m.checker = nil
	var c *checker
	if interval > 0 && check != nil {
		ctx, cancel := context.WithCancel(context.Background())
		c = &checker{interval: interval, cancel: cancel, done: make(chan struct{})}
		m.checker = c
		go m.checkLoop(ctx, c)
	} else {
		m.checkOK = true // no active checks: only the breaker judges
	}
	m.mu.Unlock()
	if old != nil {
		old.stop()
	}
}

// StopChecks ends the active checks and waits for a check under way.
func (m *Member) StopChecks() {
	m.mu.Lock()
	c := m.checker
	m.checker = nil
	m.mu.Unlock()
	if c != nil {
		c.stop()
	}
}

func (c *checker) stop() {
	c.cancel()
	<-c.done
}

func (m *Member) checkLoop(ctx context.Context, c *checker) {
	defer close(c.done)
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		m.checkOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkOnce runs one active check with the configured timeout and records
// its outcome, unless the loop is being stopped.
func (m *Member) checkOnce(ctx context.Context) {
	m.mu.Lock()
	cfg := m.health
	m.mu.Unlock()
	if cfg.Check == nil {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, cfg.timeout())
	start := time.Now()
	err := cfg.Check(cctx, m.Upstream())
	cancel()
	if ctx.Err() != nil {
		return // stopping: a cut-short check says nothing of the upstream
	}
	took := time.Since(start)
	if err == nil && cfg.UnhealthyLatency > 0 && took > cfg.UnhealthyLatency {
		err = fmt.Errorf("answered in %s, above unhealthy_latency %s", took.Round(time.Millisecond), cfg.UnhealthyLatency)
	}
	m.checked(time.Now(), err)
}
