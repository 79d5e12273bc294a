package balance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// ErrNoneAvailable is the cause of the BusyError a group returns when no
// member takes new work: every one failed its health check or has its
// breaker open. The client gets 503 with Retry-After.
var ErrNoneAvailable = upstream.ErrUnhealthy

// errNoAnswer ends a session whose initialize no member answered.
var errNoAnswer = errors.New("no upstream answered the session's initialize")

// Policy selects the member for a new session or a 2026-07-28 request
// among the available ones (never empty, in configuration order). ctx is
// the client request's context, for policies that key on the client.
// Sessions and 2026-07-28 requests are balanced each on their own: a
// policy that takes turns keeps one count for each.
type Policy interface {
	Select(ctx context.Context, available []*Member) *Member
}

// Config is a group's configuration.
type Config struct {
	// Members are the group's upstreams, in configuration order.
	Members []*Member
	// Policy selects among them (default First).
	Policy Policy
	// Retries is how many other members a new session's failed initialize
	// (or a failed open), and a retriable 2026 request, try (default 0).
	Retries int
}

// Group is an upstream.Upstream and upstream.Stateless that spreads
// sessions and requests over its members. A Group belongs to one
// configuration; its members may outlive it.
type Group struct {
	members   []*Member
	byName    map[string]*Member
	policy    Policy // for sessions
	stateless Policy // for 2026-07-28 requests
	retries   int

	wg sync.WaitGroup // retry goroutines
}

// New returns a group of cfg's members.
func New(cfg Config) (*Group, error) {
	if len(cfg.Members) == 0 {
		return nil, errors.New("balance: a group needs at least one member")
	}
	if cfg.Retries < 0 {
		return nil, errors.New("balance: retries must not be negative")
	}
	g := &Group{members: cfg.Members, byName: make(map[string]*Member, len(cfg.Members)), policy: cfg.Policy, retries: cfg.Retries}
	if g.policy == nil {
		g.policy = First{}
	}
	g.stateless = g.policy
	if t, ok := g.policy.(turnTaker); ok {
		g.stateless = t.fresh()
	}
	for _, m := range cfg.Members {
		if _, dup := g.byName[m.name]; dup {
			return nil, fmt.Errorf("balance: two upstreams are named %q; give each a distinct name", m.name)
		}
		g.byName[m.name] = m
	}
	return g, nil
}

// Members returns the group's members in configuration order.
func (g *Group) Members() []*Member { return g.members }

// Wait blocks until the group's retry goroutines have returned.
func (g *Group) Wait() { g.wg.Wait() }

// Open opens a session on the member the policy selects; when that fails
// (other than for capacity), the next one, up to Retries more.
func (g *Group) Open(ctx context.Context, r upstream.Receiver) (upstream.Conn, error) {
	if r == nil {
		return nil, errors.New("balance: Open needs a Receiver")
	}
	c := &groupConn{g: g, r: r, tried: make(map[*Member]bool), retries: g.retries}
	var last error
	for {
		mc, err := g.openNext(ctx, c)
		if err == nil {
			c.mu.Lock() // the member's reader may already look at it
			c.cur = mc
			c.mu.Unlock()
			return c, nil
		}
		if errors.Is(err, ErrNoneAvailable) && last != nil {
			return nil, last // every member left was tried: the last one's failure says more
		}
		if c.retries == 0 || errors.Is(err, ErrNoneAvailable) {
			return nil, err
		}
		last = err
		c.retries--
	}
}

// openNext opens the session on the next member not tried yet.
func (g *Group) openNext(ctx context.Context, c *groupConn) (*memberConn, error) {
	m := g.pick(ctx, c.tried)
	if m == nil {
		return nil, g.unavailable()
	}
	c.tried[m] = true
	mc := &memberConn{gc: c, m: m}
	inner, err := m.Upstream().Open(ctx, mc)
	if err != nil {
		var busy *upstream.BusyError
		if !errors.As(err, &busy) {
			m.fail(time.Now(), "opening a session failed: "+err.Error())
		}
		return nil, fmt.Errorf("upstream %s: %w", m.name, err)
	}
	mc.inner = inner
	m.track(mc)
	return mc, nil
}

// pick claims a member for a new session: the session policy's choice
// among the available members not in skip.
func (g *Group) pick(ctx context.Context, skip map[*Member]bool) *Member {
	now := time.Now()
	avail := make([]*Member, 0, len(g.members))
	for _, m := range g.members {
		if !skip[m] && m.Available(now) {
			avail = append(avail, m)
		}
	}
	return claimOne(ctx, g.policy, avail, now)
}

// pickStateless claims a member for a 2026-07-28 request: the stateless
// policy's choice among the available members not in skip that serve such
// requests. sessionsOnly reports that an available member was passed over
// because it serves only sessions.
func (g *Group) pickStateless(ctx context.Context, skip map[*Member]bool) (chosen *Member, sessionsOnly bool) {
	now := time.Now()
	avail := make([]*Member, 0, len(g.members))
	for _, m := range g.members {
		switch {
		case skip[m] || !m.Available(now):
		case !m.ServesStateless(now):
			sessionsOnly = true
		default:
			avail = append(avail, m)
		}
	}
	return claimOne(ctx, g.stateless, avail, now), sessionsOnly
}

// claimOne claims policy's choice among avail (which it may reorder).
func claimOne(ctx context.Context, policy Policy, avail []*Member, now time.Time) *Member {
	for len(avail) > 0 {
		m := policy.Select(ctx, avail)
		if m == nil {
			return nil
		}
		if m.claim(now) {
			return m
		}
		// Another session took the trial meanwhile: choose again without it.
		for i, a := range avail {
			if a == m {
				avail = append(avail[:i], avail[i+1:]...)
				break
			}
		}
	}
	return nil
}

// unavailable is the error when no member takes new work, with a retry
// hint: the soonest a member may take work again (a breaker's cooldown
// ending, or the next active check of a member that failed its last), at
// least a second.
func (g *Group) unavailable() error {
	now := time.Now()
	var wait time.Duration
	for _, m := range g.members {
		m.mu.Lock()
		var left time.Duration
		switch {
		case !m.checkOK:
			left = m.health.Interval - now.Sub(m.checkAt)
		case m.breaker != breakerClosed:
			left = m.health.cooldown() - now.Sub(m.opened)
		}
		m.mu.Unlock()
		if wait == 0 || left < wait {
			wait = left
		}
	}
	return &upstream.BusyError{RetryAfter: max(wait, time.Second), Err: ErrNoneAvailable}
}

// Interface guards.
var (
	_ upstream.Upstream  = (*Group)(nil)
	_ upstream.Stateless = (*Group)(nil)
)
