package front

import (
	"strings"
	"time"

	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// SessionInfo is a copy of what an operator may see of one session (the
// admin API's answer): plain values, read under the session's lock, so the
// caller holds no reference into the live session.
type SessionInfo struct {
	// ID is the client-facing session id.
	ID string
	// User is the authenticated user who opened the session ("" if none).
	User string
	// Client is what max_sessions_per_client counts the session under:
	// the user when authenticated, else the client's address.
	Client string
	// Upstream is the upstream the session was opened on; the caller tells
	// its kind by its type. For an upstream made of several, it is the one
	// serving the session, and UpstreamName names it.
	Upstream upstream.Upstream
	// UpstreamName is the name of the upstream serving the session when
	// the endpoint has several (upstream.ServedConn), else "".
	UpstreamName string
	// ProtocolVersion is the negotiated revision ("" until initialize was answered).
	ProtocolVersion string
	// SSE2024 reports a 2024-11-05 HTTP+SSE session.
	SSE2024 bool
	// Created is when the session was made.
	Created time.Time
	// LastActive is the time of its last request.
	LastActive time.Time
	// InFlight is the number of its requests waiting for the server's answer.
	InFlight int
	// OpenStreams is the number of its HTTP streams a client holds open.
	OpenStreams int
	// PID is the process serving the session when its upstream connection
	// runs one (upstream.ProcessConn), else 0.
	PID int
	// Servers are, on an endpoint of several MCP servers
	// (upstream.FederatedConn), the session's servers; nil otherwise.
	Servers []upstream.ServedServer
}

// Sessions returns a snapshot of the store's live sessions, in no
// particular order.
func (st *Store) Sessions() []SessionInfo {
	// The session pointers are copied under the store's lock and each
	// session is read under its own afterwards: no session lock is taken
	// under the store's.
	st.mu.Lock()
	live := make([]*Session, 0, len(st.sessions))
	for _, s := range st.sessions {
		live = append(live, s)
	}
	st.mu.Unlock()
	infos := make([]SessionInfo, 0, len(live))
	for _, s := range live {
		if info, ok := s.info(); ok {
			infos = append(infos, info)
		}
	}
	return infos
}

// Session returns a snapshot of the live session id, if there is one.
func (st *Store) Session(id string) (SessionInfo, bool) {
	s := st.get(id)
	if s == nil {
		return SessionInfo{}, false
	}
	return s.info()
}

// End ends the live session id as if its server had gone: requests in
// flight are answered with an error naming reason, its streams end, its
// upstream connection closes (a stdio process is stopped) and the client's
// next request gets 404. It reports whether such a session was live.
func (st *Store) End(id, reason string) bool {
	s := st.get(id)
	if s == nil {
		return false
	}
	s.deleted.Store(true) // the operator's end is the cluster's (clusterserve.go)
	return s.endIf(reason, nil, nil)
}

// info copies the session's state; ok is false once it has ended.
func (s *Session) info() (SessionInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return SessionInfo{}, false
	}
	info := SessionInfo{
		ID:              s.heldID(),
		User:            s.user,
		Client:          clientName(s.client),
		Upstream:        s.up,
		ProtocolVersion: s.version,
		SSE2024:         s.sse2024,
		Created:         s.created,
		LastActive:      time.Unix(0, s.lastActive.Load()),
		InFlight:        len(s.inflight),
		OpenStreams:     int(s.readers.Load()),
	}
	if pc, ok := s.conn.(upstream.ProcessConn); ok {
		info.PID = pc.PID()
	}
	if sc, ok := s.conn.(upstream.ServedConn); ok {
		info.UpstreamName, info.Upstream = sc.ServedBy()
	}
	if fc, ok := s.conn.(upstream.FederatedConn); ok {
		info.Servers = fc.ServedServers()
	}
	return info, true
}

// serversOf tells the server of a session's messages
// (pipeline.Exchange.Servers): by the session's own lists when its
// connection is a federation's, as it routes them; else (no connection
// yet) by the endpoint's (Config.Servers); nil without federation (no
// Config.Servers).
func serversOf(conn upstream.Conn, settings *sessionSettings) func(method, target string) (server, own string) {
	if settings.servers == nil {
		return nil
	}
	if fc, ok := conn.(upstream.FederatedConn); ok {
		return fc.Resolve
	}
	return settings.servers
}

// clientName is a session's client key (sessionClient) without its kind.
func clientName(key string) string {
	if user, ok := strings.CutPrefix(key, "user:"); ok {
		return user
	}
	return strings.TrimPrefix(key, "addr:")
}
