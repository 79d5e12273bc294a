package front

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddy-mcp/caddy-mcp/seal"
)

// A session no other instance can join — a stdio upstream's, whose process
// lives on one instance; one of a server that gives no session id; one of
// the 2024-11-05 transport — is served by the instance that began it, its
// owner, whose node_url its sealed id names. Another instance that gets a
// request for it forwards the request there (forward.go), with a hop token
// (seal.SealHop) bound to the endpoint, the session, the user this
// instance judged the request to be from, and the method, and with a time
// and a nonce.
//
// The owner serves a forwarded request as any other: through its own
// route, so that its mcp_auth (or other Caddy authentication) judges the
// client's own Authorization again. It then accepts the request only if
// the token opens for the user its own route found, this endpoint, the
// session the request names and its method, is fresh (seal.Guard) and was
// not seen before; anything else is 404, as an unknown session is. A
// forwarded request is never forwarded again: the owner that does not
// hold the session answers 404. So node_url is no door around mcp_auth:
// without the key no token is made, and with a stolen one the request
// must still pass the owner's authentication as the token's user.

// clusterHop serves what a cluster routes between instances: a request
// forwarded here is checked (and then served here as any other), a request
// for a session another instance owns is forwarded there. True when it
// answered.
func (s *Server) clusterHop(w http.ResponseWriter, r *http.Request) bool {
	if tok := r.Header.Get(HopHeader); tok != "" {
		if r.Method == http.MethodPost && readsStateless(r) {
			return false // its token binds its body: judged once it is read (statelessHop)
		}
		return !s.acceptHop(w, r, tok)
	}
	c := s.cfg.Cluster
	if c.Hops == nil || readsStateless(r) {
		return false
	}
	id, sse2024 := heldSessionID(r)
	if id == "" || s.cfg.Store.get(id) != nil {
		return false
	}
	user := s.userID(r)
	sealed, ok := c.openSessionID(id, user)
	if !ok || sealed.Owner == "" || sealed.Owner == c.Node {
		return false // rejoined, or not found, as usual
	}
	target, ok := hopTarget(sealed.Owner, s.cfg.Clients.PublicPath(r), r.URL.RawQuery)
	if !ok {
		return false
	}
	token := c.Ring.SealHop(seal.Binding{Endpoint: c.Endpoint, User: user}, id, r.Method, time.Now())
	ctx, stop := s.untilExit(r.Context())
	defer stop()
	err := s.forwardHop(ctx, w, r, target, token)
	if err != nil && r.Context().Err() == nil {
		// The owner is gone (killed, restarted, unreachable): its sessions
		// with it. The client starts over, on any instance.
		s.logOwnerGone("the instance that owns a session did not answer a request forwarded to it; the client is told the session is gone",
			sealed.Owner, err)
		writeSessionNotFound(w, sse2024)
	}
	return true
}

// acceptHop judges a request that says it was forwarded by another
// instance: true when its token is good, and then the request is served
// here. Else it has answered: 404 as for an unknown session, whatever the
// reason, or 503 when this instance cannot take more forwarded requests
// now without forgetting tokens it must refuse.
func (s *Server) acceptHop(w http.ResponseWriter, r *http.Request, tok string) bool {
	c := s.cfg.Cluster
	id, sse2024 := heldSessionID(r)
	err := seal.ErrInvalid
	if id != "" {
		err = c.checkHop(tok, seal.Binding{Endpoint: c.Endpoint, User: s.userID(r)}, id, r.Method)
	}
	switch {
	case err == nil:
		r.Header.Del(HopHeader)
		return true
	case errors.Is(err, seal.ErrBusy):
		writeRetryLater(w, http.StatusServiceUnavailable, DefaultRetryAfter, nil, hopsBusyMessage)
	default:
		s.cfg.Logger.Debug("refused a request with a hop token that is forged, stale, replayed, or made for another user, session or method")
		writeSessionNotFound(w, sse2024)
	}
	return false
}

// hopsBusyMessage is the answer to a forwarded request this instance
// cannot take now without forgetting tokens it must refuse (seal.ErrBusy).
const hopsBusyMessage = "Service Unavailable: too many requests forwarded between the gateway's instances; retry"

// checkHop judges the hop token tok of a request forwarded here: nil when
// it opens for bind, subject (the session id, or a 2026-07-28 body's
// digest) and method, and is fresh and new; seal.ErrInvalid when this
// instance takes no forwarded requests.
func (c *Cluster) checkHop(tok string, bind seal.Binding, subject, method string) error {
	if c.Hops == nil {
		return seal.ErrInvalid
	}
	return c.Hops.guard.Check(c.Ring, tok, bind, subject, method, time.Now())
}

// heldSessionID is the session a request names: Mcp-Session-Id, or the
// sessionId query of a 2024-11-05 POST (sse2024).
func heldSessionID(r *http.Request) (id string, sse2024 bool) {
	if id := r.Header.Get("Mcp-Session-Id"); id != "" {
		return id, false
	}
	if r.Method == http.MethodPost {
		return sse2024SessionID(r)
	}
	return "", false
}

// readsStateless reports whether r is read as a 2026-07-28 request, as
// far as its headers tell: by its MCP-Protocol-Version, unless it is a
// POST to a 2024-11-05 session (the session in the query), which is that
// session's whatever else it says (servePost).
func readsStateless(r *http.Request) bool {
	if !isStatelessVersion(r.Header.Get("Mcp-Protocol-Version")) {
		return false
	}
	_, sse2024 := heldSessionID(r)
	return !sse2024
}

// hopTarget is the owner's URL for a request to path?query: its node_url
// with the path the client asked for appended (node_url may have a path
// of its own, a prefix in front of the owner's site).
func hopTarget(owner, path, query string) (*url.URL, bool) {
	t := strings.TrimSuffix(owner, "/") + path
	if query != "" {
		t += "?" + query
	}
	u, err := url.Parse(t)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, false
	}
	return u, true
}

// writeSessionNotFound is the answer to a request for a session that is
// not, for whatever reason (sse2024: of the 2024-11-05 transport).
func writeSessionNotFound(w http.ResponseWriter, sse2024 bool) {
	msg := "Session not found: it ended or never existed; send initialize without Mcp-Session-Id to start a new one"
	if sse2024 {
		msg = "Session not found: it ended or never existed; open a new SSE stream with a GET to start a new one"
	}
	writeError(w, http.StatusNotFound, nil, codeSessionNotFound, msg)
}
