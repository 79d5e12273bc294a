package balance

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// Defaults of HealthConfig.
const (
	DefaultHealthTimeout = 5 * time.Second
	DefaultMaxFails      = 3
)

// Checker is an active health check of one upstream: nil means healthy.
// It must return when ctx is done.
type Checker func(ctx context.Context, up upstream.Upstream) error

// HealthConfig is how a member's health is judged.
type HealthConfig struct {
	// Interval is the period of active checks (0: none).
	Interval time.Duration
	// Timeout bounds one active check (default DefaultHealthTimeout).
	Timeout time.Duration
	// Check is the active check (nil: none).
	Check Checker
	// FailDuration is how long a passive failure is remembered, and how
	// long an open breaker waits before it lets a trial through (0: no
	// passive health, the breaker never opens).
	FailDuration time.Duration
	// MaxFails is how many failures within FailDuration open the breaker
	// (default DefaultMaxFails).
	MaxFails int
	// UnhealthyLatency makes an answer slower than this a failure (0: off).
	// It applies to active checks, to the initialize of a session and to
	// 2026-07-28 requests.
	UnhealthyLatency time.Duration
}

func (c HealthConfig) cooldown() time.Duration { return c.FailDuration }

func (c HealthConfig) maxFails() int {
	if c.MaxFails > 0 {
		return c.MaxFails
	}
	return DefaultMaxFails
}

func (c HealthConfig) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultHealthTimeout
}

// breakerState is the state of a member's circuit breaker.
type breakerState uint8

const (
	breakerClosed   breakerState = iota // work flows
	breakerOpen                         // no new work until the cooldown passed
	breakerHalfOpen                     // one trial is under way
)

func (s breakerState) String() string {
	switch s {
	case breakerOpen:
		return "open"
	case breakerHalfOpen:
		return "half_open"
	}
	return "closed"
}

// SetHealth gives the member a configuration's health settings; a change
// of the active check's interval takes effect at the next StartChecks.
func (m *Member) SetHealth(c HealthConfig) {
	m.mu.Lock()
	m.health = c
	if c.FailDuration == 0 && m.breaker != breakerClosed {
		m.setBreaker(breakerClosed) // passive health turned off
		m.fails = nil
	}
	m.mu.Unlock()
}

// claim takes the member for new work: for a closed breaker it always
// succeeds; for an open one whose cooldown passed it makes this the one
// trial (half-open) and succeeds; otherwise it fails.
func (m *Member) claim(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.availableLocked(now) {
		return false
	}
	if m.breaker != breakerClosed {
		m.setBreaker(breakerHalfOpen)
		m.opened = now
	}
	return true
}

// availableLocked is Available under m.mu.
func (m *Member) availableLocked(now time.Time) bool {
	if !m.checkOK {
		return false
	}
	if m.breaker == breakerClosed {
		return true
	}
	// Open, or half-open with a trial that never reported: due again once
	// a cooldown passed.
	return now.Sub(m.opened) >= m.health.cooldown()
}

// fail records a passive failure; MaxFails of them within FailDuration
// open the breaker and take the member down. A failed trial reopens it.
func (m *Member) fail(now time.Time, why string) {
	m.mu.Lock()
	m.total++
	window := m.health.FailDuration
	if window == 0 {
		m.mu.Unlock()
		m.logger.Debug("upstream failure (passive health is off)", zap.String("why", why))
		return
	}
	keep := m.fails[:0]
	for _, t := range m.fails {
		if now.Sub(t) < window {
			keep = append(keep, t)
		}
	}
	m.fails = append(keep, now)
	opened := false
	switch m.breaker {
	case breakerClosed:
		if len(m.fails) >= m.health.maxFails() {
			m.setBreaker(breakerOpen)
			m.opened, opened = now, true
		}
	default:
		m.setBreaker(breakerOpen)
		m.opened, opened = now, true
	}
	n := len(m.fails)
	m.mu.Unlock()
	if opened {
		m.logger.Warn("upstream breaker opened", zap.String("why", why), zap.Int("fails", n), zap.Duration("fail_duration", window))
		m.takeDown(fmt.Sprintf("its circuit breaker opened after %d failures (last: %s)", n, why))
		return
	}
	m.logger.Debug("upstream failure", zap.String("why", why), zap.Int("fails", n))
}

// succeed records a success: a trial's closes the breaker.
func (m *Member) succeed() {
	m.mu.Lock()
	closed := m.breaker == breakerHalfOpen
	if closed {
		m.setBreaker(breakerClosed)
		m.fails = nil
	}
	m.mu.Unlock()
	if closed {
		m.logger.Info("upstream breaker closed: the trial succeeded")
	}
}

// tripped reports whether the breaker is not closed, cheaply enough for
// every response: only then does a success change anything.
func (m *Member) tripped() bool { return m.notClosed.Load() }

// setBreaker changes the breaker's state; m.mu is held.
func (m *Member) setBreaker(s breakerState) {
	m.breaker = s
	m.notClosed.Store(s != breakerClosed)
}

// checked records the outcome of an active check. A failure takes the
// member down; a pass after a failure brings it back, and a pass while the
// breaker waits for a trial counts as the trial.
func (m *Member) checked(now time.Time, err error) {
	m.mu.Lock()
	was := m.checkOK
	m.checkOK, m.checkAt = err == nil, now
	m.checkEr = ""
	if err != nil {
		m.checkEr = err.Error()
	}
	closed := false
	if err == nil && m.breaker != breakerClosed && now.Sub(m.opened) >= m.health.cooldown() {
		m.setBreaker(breakerClosed)
		m.fails, closed = nil, true
	}
	m.mu.Unlock()
	switch {
	case err != nil && was:
		m.logger.Warn("upstream health check failed", zap.Error(err))
		m.takeDown("its health check failed")
	case err == nil && !was:
		m.logger.Info("upstream health check passed again: taking new sessions")
	case closed:
		m.logger.Info("upstream breaker closed: the health check passed")
	}
}

// Status is what the admin API and the metrics show of a member.
type Status struct {
	Name     string
	Kind     string
	Healthy  bool   // takes new work now
	Breaker  string // closed, open or half_open
	Fails    int    // passive failures within the window
	Total    int64  // passive failures since the member was made
	Sessions int
	// CheckedAt is when the last active check ran (zero: none ran).
	CheckedAt time.Time
	// CheckError is the last active check's failure ("" when it passed).
	CheckError string
}

// Status reports the member's health now.
func (m *Member) Status(now time.Time) Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Status{
		Name: m.name, Kind: m.kind, Healthy: m.availableLocked(now), Breaker: m.breaker.String(),
		Fails: len(m.fails), Total: m.total, Sessions: int(m.sessions.Load()),
		CheckedAt: m.checkAt, CheckError: m.checkEr,
	}
}
