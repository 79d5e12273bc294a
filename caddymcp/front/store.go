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
	maxSessions atomic.Int64
	idleTimeout atomic.Int64 // nanoseconds; 0 = never
	logger      *zap.Logger

	mu       sync.Mutex
	sessions map[string]*Session
	closed   bool

	stop chan struct{}
	wg   sync.WaitGroup // the reaper and background sends
}

// NewStore returns an empty store and starts its idle reaper.
func NewStore(maxSessions int, idleTimeout time.Duration, logger *zap.Logger) *Store {
	if logger == nil {
		logger = zap.NewNop()
	}
	st := &Store{logger: logger, sessions: make(map[string]*Session), stop: make(chan struct{})}
	st.SetLimits(maxSessions, idleTimeout)
	st.wg.Add(1)
	go func() { defer st.wg.Done(); st.reap() }()
	return st
}

// SetLimits updates the session bound and idle timeout (on a reload).
func (st *Store) SetLimits(maxSessions int, idleTimeout time.Duration) {
	st.maxSessions.Store(int64(maxSessions))
	st.idleTimeout.Store(int64(idleTimeout))
}

// Len returns the number of live sessions.
func (st *Store) Len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.sessions)
}

// errStoreFull and errStoreClosed are returned by add.
var (
	errStoreFull   = storeError("the gateway holds its maximum number of sessions (max_sessions); retry later")
	errStoreClosed = storeError("this endpoint is shutting down")
)

type storeError string

func (e storeError) Error() string { return string(e) }

func (st *Store) add(s *Session) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return errStoreClosed
	}
	if max := st.maxSessions.Load(); max > 0 && int64(len(st.sessions)) >= max {
		return errStoreFull
	}
	st.sessions[s.id] = s
	return nil
}

func (st *Store) get(id string) *Session {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.sessions[id]
}

func (st *Store) remove(s *Session) {
	st.mu.Lock()
	if st.sessions[s.id] == s {
		delete(st.sessions, s.id)
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
				s.close("idle for longer than session_idle_timeout (" + idle.String() + ")")
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
		s.close(reason)
	}
	close(st.stop)
	st.wg.Wait()
}
