package front

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/seal"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// A POST's stream resumed on another instance of a cluster. The event ids
// of a POST's stream carry, sealed, the request it answers (its id, method
// and target: what the stages, the call log and the metrics read of it).
// The instance a resume lands on, which never saw the request, takes it
// as its own call — in flight, on a new stream — and reads the upstream's
// answer stream after the upstream event id the id carries: what comes
// goes the way any server message goes, through the stages, to that call,
// whose answer the client gets under its own id. When the answer cannot be
// had (the server gave no event ids, or resuming fails) the call is
// answered with an error, so that the client's call fails at once rather
// than wait for an answer that will not come.

// Bounds on what a stream's event ids carry of its request: an id beyond
// them carries none (its resume gets an empty stream), a target beyond
// them no method (its resume gets an error: the stages could not judge
// the answer as the first instance would have).
const (
	maxAskID     = 128
	maxAskTarget = 256
)

// errNotResumable: the upstream resumes no stream (or the id carried no
// upstream event id to resume after).
var errNotResumable = errors.New("the upstream's stream cannot be resumed")

// Answers to a resumed request whose answer cannot be had.
const (
	msgAnswerLost     = "the answer to this request was lost: the gateway instance that sent it stopped, and the MCP server's stream cannot be resumed; send the request again"
	msgResumeRejected = "the gateway could not take up this request's stream: "
)

// noteAsk records, in a cluster, the request c this POST stream answers,
// for its event ids; a stream of several requests records none.
func (st *stream) noteAsk(c *call) {
	if st.index == getStreamIndex {
		return
	}
	q := &severalAsks // as good as none: an id over the bound
	switch {
	case len(c.id) > maxAskID:
	case len(c.target) > maxAskTarget:
		q = &seal.EventRequest{ID: string(c.id)}
	default:
		q = &seal.EventRequest{ID: string(c.id), Method: c.method, Target: c.target}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ask != nil {
		q = &severalAsks
	}
	st.ask = q
}

// severalAsks is the ask of a stream that answers more than one request,
// or one whose id is over the bound: its event ids carry none.
var severalAsks seal.EventRequest

// askOf is the request the stream answers (zero: none or several).
func (st *stream) askOf() seal.EventRequest {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ask == nil || st.ask == &severalAsks {
		return seal.EventRequest{}
	}
	return *st.ask
}

// inflightStream is the stream of the call with id key in flight, or nil.
func (s *Session) inflightStream(key string) *stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.inflight[key]; c != nil {
		return c.stream
	}
	return nil
}

// resumeCall goes on with the request whose stream on another instance the
// sealed event ev names: the stream of the call it makes of it here; nil
// when ev names no request (the client is answered an empty stream).
func (s *Server) resumeCall(w http.ResponseWriter, r *http.Request, sess *Session, ev seal.Event) *stream {
	q := ev.Request
	if q.ID == "" {
		return nil
	}
	st, err := sess.newPostStream()
	if err != nil {
		return nil
	}
	set := sess.settings.Load()
	id := json.RawMessage(q.ID)
	c := &call{id: id, stream: st, method: q.Method, target: q.Target, post: w}
	if set.chain.Len() > 0 {
		c.claim = s.cfg.Clients.Claims(r) // the same user's (the id is bound to it), as it asks now
	}
	if set.observer != nil {
		c.start = time.Now()
	}
	switch err := sess.track(c, set); {
	case errors.Is(err, errDuplicateID):
		// An earlier resume here, which the client had nothing of yet.
		sess.forgetStream(st)
		return sess.inflightStream(q.ID)
	case err != nil:
		st.expect()
		st.respond(pipeline.NewError(id, pipeline.CodeInternalError, msgResumeRejected+err.Error()))
		return st
	}
	if q.Method == "" || ev.Upstream == "" {
		sess.fail(q.ID, pipeline.CodeInternalError, msgAnswerLost)
		return st
	}
	ctx, cancel := sess.ctx, context.CancelFunc(func() {})
	if set.requestTimeout > 0 {
		ctx, cancel = context.WithTimeout(sess.ctx, set.requestTimeout)
	}
	rc := upstream.ResumedCall{ID: id, Method: q.Method, Target: q.Target}
	if !sess.store.goTracked(func() {
		defer cancel()
		if resumeUpstreamCall(ctx, sess, ev.Upstream, rc) != nil {
			sess.fail(q.ID, pipeline.CodeInternalError, msgAnswerLost) // nothing if answered meanwhile
		}
	}) {
		cancel()
		sess.fail(q.ID, pipeline.CodeInternalError, msgAnswerLost)
	}
	return st
}

// resumeUpstreamCall reads the upstream's answer stream of call after its
// event id from, delivering what it carries to sess as call's; an error
// when the answer was not delivered.
func resumeUpstreamCall(ctx context.Context, sess *Session, from string, call upstream.ResumedCall) error {
	switch u := sess.upstream().(type) {
	case upstream.CallResumer:
		return u.ResumeCall(ctx, from, call)
	case upstream.StreamResumer:
		return u.ResumeStream(ctx, from, func(m *pipeline.Message) { sess.DeliverRelated(m, call.ID) })
	}
	return errNotResumable
}
