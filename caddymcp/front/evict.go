package front

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// Most clients never end their sessions: the conformance runner, IDEs that
// crash or are closed, agents that reconnect with a new session. Left to
// session_idle_timeout alone, such sessions would hold a bound — a process
// of the pool, a place under max_sessions or under max_sessions_per_client —
// for half an hour while live clients are refused. So when a bound stands
// in the way of a new session, the least recently used session behind it
// that may give way ends (its client's next request gets 404 and it
// initializes again), and only when none may is the new one refused. Which
// sessions may give way: at the per-client bound, the client's own idle
// ones; at a bound all clients share, see fairshare.go.
//
// Idle means: the session's upstream is open, no request of it is in
// flight, and no HTTP stream of it is open. A session with work in flight
// is never taken; one with a client listening only from a client over its
// fair share; a new one never (spare).

// The bounds that can make a session give way, as logged.
const (
	reasonMaxSessions  = "max_sessions"
	reasonMaxPerClient = "max_sessions_per_client"
	reasonPoolFull     = "max_processes"
)

// evictionRule says which sessions may give way to a new session of
// client newcomer.
type evictionRule struct {
	newcomer string
	scope    func(*Session) bool // the sessions under the bound
	share    *fairShare          // nil: only the newcomer's own idle sessions
}

// candidate is a session that may give way; listening says whether it may
// even while a stream of it is open.
type candidate struct {
	s         *Session
	listening bool
	active    int64
}

// evictionCandidatesLocked returns the sessions the rule lets give way,
// least recently active first. Whether one is busy is checked later, under
// its own lock (no session lock is taken under the store's). Called with
// st.mu held.
func (st *Store) evictionCandidatesLocked(rule evictionRule) []candidate {
	now := time.Now().UnixNano()
	var cs []candidate
	for _, s := range st.sessions {
		if !rule.scope(s) || s.spared(now) {
			continue
		}
		over := rule.share != nil && rule.share.over(s.client)
		if over || (s.client == rule.newcomer && s.readers.Load() == 0) {
			cs = append(cs, candidate{s, over, s.lastActive.Load()})
		}
	}
	slices.SortFunc(cs, func(a, b candidate) int { return cmp.Compare(a.active, b.active) })
	return cs
}

// evictOne ends the first candidate that may still give way and returns
// it, or nil when none may.
func (st *Store) evictOne(candidates []candidate, bound string) *Session {
	for _, c := range candidates {
		s := c.s
		idleFor := time.Since(time.Unix(0, s.lastActive.Load()))
		if !s.evictIfIdle(bound, c.listening) {
			continue
		}
		st.evicted.Add(1)
		st.logger.Info("ended an idle session to make room for a new one",
			zap.String("session", s.id), zap.String("client", s.client),
			zap.String("bound", bound), zap.Duration("idle_for", idleFor),
			zap.Bool("over_fair_share", c.listening))
		return s
	}
	return nil
}

// evictIfIdle ends the session if no request of it is in flight, no
// stream of it is open unless listening allows that, and it is not spared;
// it reports whether it did.
func (s *Session) evictIfIdle(bound string, listening bool) bool {
	reason := "ended by the gateway to make room for a new session (" + bound + " reached) after it was left idle"
	if listening {
		reason = "ended by the gateway to make room for a new session (" + bound + " reached): its client held more than its fair share"
	}
	return s.endIf(reason, func() bool {
		return s.conn != nil && len(s.inflight) == 0 && (listening || s.readers.Load() == 0) &&
			!s.spared(time.Now().UnixNano())
	}, nil)
}

// withReclaim lets the upstream ask, when it has no capacity left for
// sess (every process of a stdio pool in use), for a session on the same
// upstream to give its capacity up, fairly among the clients holding
// sessions there (fairshare.go). atShare is set when a request
// found nothing to end while sess's client held its share or more.
func (s *Server) withReclaim(ctx context.Context, sess *Session, atShare *atomic.Bool) context.Context {
	return upstream.WithReclaim(ctx, func() bool {
		st := s.cfg.Store
		// The share is of the sessions on the upstream, not of the
		// pool's processes: a session whose process is still starting
		// holds a slot too, and a client with sessions waiting for one
		// asks for more than it has.
		onUpstream := func(x *Session) bool { return x != sess && x.up == sess.up }
		st.mu.Lock()
		held, total := make(map[string]int), 0
		for _, x := range st.sessions {
			if onUpstream(x) {
				held[x.client]++
				total++
			}
		}
		share := newFairShare(total, held, sess.client)
		candidates := st.evictionCandidatesLocked(evictionRule{newcomer: sess.client, scope: onUpstream, share: &share})
		full := share.full(sess.client)
		st.mu.Unlock()
		if st.evictOne(candidates, reasonPoolFull) != nil {
			return true
		}
		if full {
			atShare.Store(true)
		}
		return false
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
