package front

import (
	"cmp"
	"sync"
)

// Bounds of 2026-07-28 requests, which have no session to bound them.
const (
	// DefaultMaxStatelessInFlight is the default of
	// Config.MaxStatelessInFlight: 2026-07-28 requests in flight across all
	// clients.
	DefaultMaxStatelessInFlight = 1024
	// DefaultMaxListens is the default of Config.MaxListens: open
	// subscriptions/listen streams across all clients.
	DefaultMaxListens = 1024
	// DefaultMaxListensPerClient bounds the subscriptions/listen streams
	// one client holds open (a client needs one; a few for reconnects).
	DefaultMaxListensPerClient = 16
)

// statelessLimits are the bounds slots enforces.
type statelessLimits struct {
	perClient, total             int // requests in flight
	listensPerClient, listensAll int // subscriptions/listen streams
}

func (s *Server) statelessLimits() statelessLimits {
	return statelessLimits{
		perClient:        s.cfg.MaxInFlight,
		total:            cmp.Or(s.cfg.MaxStatelessInFlight, DefaultMaxStatelessInFlight),
		listensPerClient: DefaultMaxListensPerClient,
		listensAll:       cmp.Or(s.cfg.MaxListens, DefaultMaxListens),
	}
}

// refusal says which bound turned a 2026-07-28 request away.
type refusal int

const (
	admitted refusal = iota
	refusedClient
	refusedClientListens
	refusedTotal
	refusedTotalListens
)

// slots bounds the 2026-07-28 requests in flight per client and in all.
// A subscriptions/listen stream is long-lived, so listens have bounds of
// their own: they never take the slots that calls need.
type slots struct {
	mu      sync.Mutex
	calls   counter
	listens counter
}

// counter counts what is in flight per key and in all.
type counter struct {
	perKey map[string]int // holds only keys in flight
	total  int
}

// acquire takes a slot for key (a listen's slot when listen) unless a bound
// is reached; release frees it.
func (sl *slots) acquire(listen bool, key string, lim statelessLimits) (release func(), why refusal) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	c, perKey, total := &sl.calls, lim.perClient, lim.total
	byKey, byTotal := refusedClient, refusedTotal
	if listen {
		c, perKey, total = &sl.listens, lim.listensPerClient, lim.listensAll
		byKey, byTotal = refusedClientListens, refusedTotalListens
	}
	if c.perKey == nil {
		c.perKey = make(map[string]int)
	}
	switch {
	case perKey > 0 && c.perKey[key] >= perKey:
		return nil, byKey
	case total > 0 && c.total >= total:
		return nil, byTotal
	}
	c.perKey[key]++
	c.total++
	return func() {
		sl.mu.Lock()
		defer sl.mu.Unlock()
		c.total--
		if c.perKey[key]--; c.perKey[key] <= 0 {
			delete(c.perKey, key)
		}
	}, admitted
}
