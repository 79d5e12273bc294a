package front

import (
	"context"
	"errors"

	"github.com/caddy-mcp/caddy-mcp/seal"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// What a sealed id carries of the upstream sessions behind a session, and
// how an instance joins them: one server session for an upstream (or a
// load-balancing group), one per server for a federation.

// sealedUpstreams returns the server sessions behind conn, to seal into the
// client's id, and the revision the server negotiated when it tells ("" for
// a federation: the gateway's own is sealed); ok is false when the session
// cannot be joined elsewhere.
func sealedUpstreams(conn upstream.Conn) (ups []seal.Upstream, version string, ok bool) {
	switch j := conn.(type) {
	case upstream.Joinable:
		e, ok := j.Existing()
		if !ok {
			return nil, "", false
		}
		return []seal.Upstream{{Member: e.Member, SessionID: e.SessionID}}, e.Version, true
	case upstream.SessionsJoinable:
		es, ok := j.ExistingSessions()
		if !ok {
			return nil, "", false
		}
		ups = make([]seal.Upstream, 0, len(es))
		for _, e := range es {
			ups = append(ups, seal.Upstream{Server: e.Server, Member: e.Member, SessionID: e.SessionID})
		}
		return ups, "", true
	}
	return nil, "", false
}

// canJoin reports whether this endpoint's upstream can join what sealed
// names: one server session of an upstream, or a federation's sessions.
func (s *Server) canJoin(sealed seal.Session) bool {
	switch s.cfg.Upstream.(type) {
	case upstream.SessionsAttacher:
		for _, u := range sealed.Upstreams {
			if u.Server == "" {
				return false // minted for an endpoint that was not federated
			}
		}
		return true
	case upstream.Attacher:
		return len(sealed.Upstreams) == 1 && sealed.Upstreams[0].Server == "" && sealed.Upstreams[0].SessionID != ""
	}
	return false
}

// errNotJoinable is attachSealed's error for an upstream that joins nothing
// (canJoin said so first).
var errNotJoinable = errors.New("the upstream cannot join a session another instance began")

// attachSealed joins the server sessions sealed names for sess.
func (s *Server) attachSealed(ctx context.Context, sess *Session, sealed seal.Session) (upstream.Conn, error) {
	switch a := s.cfg.Upstream.(type) {
	case upstream.SessionsAttacher:
		es := make([]upstream.Existing, 0, len(sealed.Upstreams))
		for _, u := range sealed.Upstreams {
			es = append(es, upstream.Existing{Server: u.Server, Member: u.Member, SessionID: u.SessionID, Version: sealed.Revision})
		}
		return a.AttachSessions(ctx, sess, sealed.Revision, es)
	case upstream.Attacher:
		u := sealed.Upstreams[0]
		return a.Attach(ctx, sess, upstream.Existing{Member: u.Member, SessionID: u.SessionID, Version: sealed.Revision})
	}
	return nil, errNotJoinable
}
