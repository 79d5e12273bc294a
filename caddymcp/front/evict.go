package front

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// Most clients never end their sessions: the conformance runner, IDEs that
// crash or are closed, agents that reconnect with a new session. Left to
// session_idle_timeout alone, such sessions would hold a bound — a process
// of the pool, a place under max_sessions or under max_sessions_per_client —
// for half an hour while live clients are refused. So when a bound stands
// in the way of a new session, the least recently used idle session behind
// it ends (its client's next request gets 404 and it initializes again), and
// only when every such session is busy is the new one refused.
//
// Idle means: the session's upstream is open, no request of it is in
// flight, and no HTTP stream of it is open. A session with work in flight or
// a client listening is never taken.

// The bounds that can make a session give way, as logged.
const (
	reasonMaxSessions  = "max_sessions"
	reasonMaxPerClient = "max_sessions_per_client"
	reasonPoolFull     = "max_processes"
)

// evictionCandidatesLocked returns the sessions that match and have no open
// stream, least recently active first. Whether one is busy is checked
// later, under its own lock (no session lock is taken under the store's).
// Called with st.mu held.
func (st *Store) evictionCandidatesLocked(match func(*Session) bool) []*Session {
	type candidate struct {
		s      *Session
		active int64
	}
	var cs []candidate
	for _, s := range st.sessions {
		if s.readers.Load() == 0 && match(s) {
			cs = append(cs, candidate{s, s.lastActive.Load()})
		}
	}
	slices.SortFunc(cs, func(a, b candidate) int { return cmp.Compare(a.active, b.active) })
	out := make([]*Session, len(cs))
	for i, c := range cs {
		out[i] = c.s
	}
	return out
}

// evictOne ends the first candidate that is still idle and returns it, or
// nil when every candidate is busy.
func (st *Store) evictOne(candidates []*Session, bound string) *Session {
	for _, s := range candidates {
		idleFor := time.Since(time.Unix(0, s.lastActive.Load()))
		if !s.evictIfIdle(bound) {
			continue
		}
		st.evicted.Add(1)
		st.logger.Info("ended an idle session to make room for a new one",
			zap.String("session", s.id), zap.String("client", s.client),
			zap.String("bound", bound), zap.Duration("idle_for", idleFor))
		return s
	}
	return nil
}

// evictIfIdle ends the session if it is idle, and reports whether it did.
func (s *Session) evictIfIdle(bound string) bool {
	return s.end("ended by the gateway to make room for a new session ("+bound+" reached) after it was left idle",
		func() bool { return s.conn != nil && len(s.inflight) == 0 && s.readers.Load() == 0 }, nil)
}

// withReclaim lets the upstream ask, when it has no capacity left for
// sess (every process of a stdio pool in use), for the least recently used
// idle session on the same upstream to give its capacity up.
func (s *Server) withReclaim(ctx context.Context, sess *Session) context.Context {
	return upstream.WithReclaim(ctx, func() bool {
		st := s.cfg.Store
		st.mu.Lock()
		candidates := st.evictionCandidatesLocked(func(x *Session) bool { return x != sess && x.up == sess.up })
		st.mu.Unlock()
		return st.evictOne(candidates, reasonPoolFull) != nil
	})
}

// sessionClient is the key of the per-client session bound: the
// authenticated user, else the client's address as for 2026 requests.
func (s *Server) sessionClient(r *http.Request, user string) string {
	if user != "" {
		return "user:" + user
	}
	return "addr:" + s.clientKey(r)
}
