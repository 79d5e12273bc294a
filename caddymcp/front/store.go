package front

import (
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Store holds the sessions of one endpoint. It outlives configuration
// reloads (the Caddy face keeps it in a usage pool keyed by the endpoint's
// name), so a reload that keeps the endpoint keeps every session.
type Store struct {
	maxSessions  atomic.Int64
	maxPerClient atomic.Int64
	idleTimeout  atomic.Int64 // nanoseconds; 0 = never
	evicted      atomic.Int64 // sessions ended to make room (evict.go)
	grace        atomic.Int64 // nanoseconds a new session is spared eviction (fairshare.go)
	budget       *replayBudget
	logger       *zap.Logger

	mu        sync.Mutex
	sessions  map[string]*Session
	sealed    map[string]*Session // by the ids clients of a cluster hold, when not the session's own (clusterserve.go)
	perClient map[string]int      // live sessions per Session.client
	closed    bool

	notices noticeQueue // the gateway's own notifications for every session (notify.go)

	joining map[string]chan struct{} // the cluster's sessions being rebuilt, closed when done (clusterserve.go); guarded by mu

	stop chan struct{}
	wg   sync.WaitGroup // the reaper and background sends
}

// Limits are the bounds a Store keeps; zero means no bound.
type Limits struct {
	// MaxSessions bounds the live sessions of the endpoint.
	MaxSessions int
	// MaxSessionsPerClient bounds the live sessions of one client (its
	// authenticated user, else its address).
	MaxSessionsPerClient int
	// IdleTimeout ends sessions with no request and no open stream for this long.
	IdleTimeout time.Duration
	// ReplayBudget bounds the bytes all replay buffers of the endpoint's
	// streams hold together; above it the oldest events of streams nobody
	// listens to go first (budget.go).
	ReplayBudget int64
}

// NewStore returns an empty store and starts its idle reaper.
func NewStore(limits Limits, logger *zap.Logger) *Store {
	if logger == nil {
		logger = zap.NewNop()
	}
	st := &Store{
		budget:    newReplayBudget(logger),
		logger:    logger,
		sessions:  make(map[string]*Session),
		perClient: make(map[string]int),
		stop:      make(chan struct{}),
	}
	st.SetLimits(limits)
	st.grace.Store(int64(DefaultEvictionGrace))
	st.wg.Add(1)
	go func() { defer st.wg.Done(); st.reap() }()
	return st
}

// SetLimits updates the bounds (on a reload). Sessions beyond a lowered
// bound stay; the bound applies to the next new session. A lowered replay
// budget applies at once.
func (st *Store) SetLimits(l Limits) {
	st.maxSessions.Store(int64(l.MaxSessions))
	st.maxPerClient.Store(int64(l.MaxSessionsPerClient))
	st.idleTimeout.Store(int64(l.IdleTimeout))
	st.budget.setLimit(l.ReplayBudget)
}

// ReplayHeld returns the bytes the replay buffers of the store's sessions
// hold (the raw size of the messages, as replay_budget counts them).
func (st *Store) ReplayHeld() int64 { return st.budget.held() }

// ReplayLost returns how many events replay_budget dropped before any
// client had them, since the store was made.
func (st *Store) ReplayLost() int64 { return st.budget.lost.Load() }

// Evicted returns how many idle sessions were ended to make room for new
// ones since the store was made.
func (st *Store) Evicted() int64 { return st.evicted.Load() }

// Len returns the number of live sessions.
func (st *Store) Len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.sessions)
}

// Errors returned by add.
var (
	errStoreFull   = storeError("the gateway holds its maximum number of sessions (max_sessions) and every one is busy; retry later")
	errStoreShare  = storeError("the gateway holds its maximum number of sessions (max_sessions) and this client holds its fair share of them (the bound divided among the clients holding sessions), none of them idle; end one (DELETE) or retry later")
	errClientFull  = storeError("this client holds its maximum number of sessions (max_sessions_per_client) and every one is busy; end one (DELETE) or retry later")
	errStoreClosed = storeError("this endpoint is shutting down")
)

type storeError string

func (e storeError) Error() string { return string(e) }

// add admits a new session. At a bound it first ends a session that may
// give way — the client's own least recently used idle one at the
// per-client bound; at max_sessions also one of a client over its fair
// share (fairshare.go) — and fails only when none may (see evict.go).
func (st *Store) add(s *Session) error {
	for {
		st.mu.Lock()
		if st.closed {
			st.mu.Unlock()
			return errStoreClosed
		}
		rule := evictionRule{newcomer: s.client}
		var full error
		reason := reasonMaxPerClient
		if max := st.maxPerClient.Load(); max > 0 && int64(st.perClient[s.client]) >= max {
			rule.scope, full = func(x *Session) bool { return x.client == s.client }, errClientFull
		} else if max := st.maxSessions.Load(); max > 0 && int64(len(st.sessions)) >= max {
			share := newFairShare(int(max), st.perClient, s.client)
			rule.scope, rule.share, full, reason = func(*Session) bool { return true }, &share, errStoreFull, reasonMaxSessions
			if share.full(s.client) {
				full = errStoreShare
			}
		}
		if full == nil {
			st.sessions[s.id] = s
			st.perClient[s.client]++
			st.mu.Unlock()
			return nil
		}
		candidates := st.evictionCandidatesLocked(rule)
		st.mu.Unlock()
		if st.evictOne(candidates, reason) == nil {
			return full
		}
	}
}

func (st *Store) get(id string) *Session {
	st.mu.Lock()
	defer st.mu.Unlock()
	if s := st.sessions[id]; s != nil || st.sealed == nil {
		return s
	}
	return st.sealed[id]
}

func (st *Store) remove(s *Session) {
	st.mu.Lock()
	if st.sessions[s.id] == s {
		delete(st.sessions, s.id)
		if id := s.clientID.Load(); id != nil {
			delete(st.sealed, *id)
		}
		if st.perClient[s.client]--; st.perClient[s.client] <= 0 {
			delete(st.perClient, s.client)
		}
	}
	st.mu.Unlock()
}

// goTracked runs f in a goroutine that Close waits for. It reports false,
// and runs nothing, once the store is closed.
func (st *Store) goTracked(f func()) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return false
	}
	st.wg.Add(1)
	go func() { defer st.wg.Done(); f() }()
	return true
}

// reap ends sessions idle for longer than the idle timeout: no request and
// no open stream.
func (st *Store) reap() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-st.stop:
			return
		case now := <-tick.C:
			idle := time.Duration(st.idleTimeout.Load())
			if idle <= 0 {
				continue
			}
			for _, s := range st.idleSessions(now.Add(-idle).UnixNano()) {
				st.logger.Debug("closing idle session", zap.String("session", s.id))
				s.end("idle for longer than session_idle_timeout (" + idle.String() + ")")
			}
		}
	}
}

func (st *Store) idleSessions(before int64) []*Session {
	st.mu.Lock()
	var quiet []*Session
	for _, s := range st.sessions {
		if s.readers.Load() == 0 && s.lastActive.Load() < before {
			quiet = append(quiet, s)
		}
	}
	st.mu.Unlock()
	// No session lock is taken under the store's.
	idle := quiet[:0]
	for _, s := range quiet {
		if !s.busy() {
			idle = append(idle, s)
		}
	}
	return idle
}

// Close ends every session and waits for the store's goroutines. Requests
// in flight are answered with an error naming reason.
func (st *Store) Close(reason string) {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return
	}
	st.closed = true
	sessions := make([]*Session, 0, len(st.sessions))
	for _, s := range st.sessions {
		sessions = append(sessions, s)
	}
	st.mu.Unlock()
	for _, s := range sessions {
		s.end(reason)
	}
	close(st.stop)
	st.wg.Wait()
}
