package front

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/seal"
	"github.com/caddy-mcp/caddy-mcp/upstream/tags"
)

// A 2026-07-28 request has no session, but it may carry a tag — a task id
// — that a stdio process of another instance minted: the sealed tag names
// that instance (Cluster.TagOwner), and the request is forwarded there as
// a session's is (hop.go), before any stage of this instance sees it, so
// that the owner alone judges and serves it. Its hop token binds, in a
// session id's place, a digest of the body (seal.RequestSubject): it is
// good for that one request. The owner reads the body before it can judge
// the token, so the check is here, on the stateless path, not in
// clusterHop; anything the owner refuses, and an owner that does not
// answer, gets what a task id no upstream minted gets (tags.Invalid).

// statelessHop serves what a cluster routes for the 2026-07-28 request m:
// one forwarded here is checked (and then served here as any other), one
// whose tags name another instance's process is forwarded there. True
// when it answered.
func (s *Server) statelessHop(w http.ResponseWriter, r *http.Request, m *pipeline.Message) bool {
	c := s.cfg.Cluster
	user := s.userID(r)
	bind := seal.Binding{Endpoint: c.Endpoint, User: user}
	if tok := r.Header.Get(HopHeader); tok != "" {
		return !s.acceptStatelessHop(w, r, m, bind, tok)
	}
	if c.Hops == nil {
		return false
	}
	owner, ok := c.TagOwner(m, user)
	if !ok || owner == "" || owner == c.Node {
		return false // served here: openStateless answers a tag that does not open
	}
	target, ok := hopTarget(owner, s.cfg.Clients.PublicPath(r), r.URL.RawQuery)
	if !ok {
		return false
	}
	token := c.Ring.SealHop(bind, seal.RequestSubject(m.Raw), r.Method, time.Now())
	// The body was read to find the tags: the owner gets the message as
	// it was parsed, which is what the token's digest is of.
	fr := r.WithContext(r.Context())
	fr.Body, fr.ContentLength = io.NopCloser(bytes.NewReader(m.Raw)), int64(len(m.Raw))
	fr.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(m.Raw)), nil }
	ctx, stop := s.untilExit(r.Context())
	defer stop()
	err := s.forwardHop(ctx, w, fr, target, token)
	if err != nil && r.Context().Err() == nil {
		// The owner is gone, its processes and their tasks with it: the
		// client hears what it hears of a task no server knows.
		s.logOwnerGone("the instance that owns a task did not answer a 2026-07-28 request forwarded to it; the client is told the task id is not valid",
			owner, err)
		writeMessage(w, http.StatusOK, tags.Invalid(m.ID))
	}
	return true
}

// acceptStatelessHop judges a 2026-07-28 request that says another
// instance forwarded it: true when its token opens for this endpoint, the
// user this instance's route found, this body and method, and is fresh
// and new. Else it has answered: tags.Invalid whatever the reason, or 503
// as acceptHop does.
func (s *Server) acceptStatelessHop(w http.ResponseWriter, r *http.Request, m *pipeline.Message, bind seal.Binding, tok string) bool {
	err := s.cfg.Cluster.checkHop(tok, bind, seal.RequestSubject(m.Raw), r.Method)
	switch {
	case err == nil:
		r.Header.Del(HopHeader)
		return true
	case errors.Is(err, seal.ErrBusy):
		writeRetryLater(w, http.StatusServiceUnavailable, DefaultRetryAfter, m.ID, hopsBusyMessage)
	default:
		s.cfg.Logger.Debug("refused a 2026-07-28 request with a hop token that is forged, stale, replayed, or made for another user or request")
		writeMessage(w, http.StatusOK, tags.Invalid(m.ID))
	}
	return false
}
