package front

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcptrace"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/tags"
)

// The pipeline on a client's messages: it runs on their POST's goroutine
// (toServer); a stage that holds a request suspends its request_timeout
// (holdCall). stages_outbound.go runs it on the server's.

// requestExchange describes a client message of a session.
func (s *Server) requestExchange(r *http.Request, sess *Session, version string) *pipeline.Exchange {
	settings := sess.settings.Load()
	ex := &pipeline.Exchange{Direction: pipeline.ToServer, SessionID: sess.id, ProtocolVersion: version, User: sess.user}
	if settings.servers != nil { // a federated endpoint's: no lock taken on the others'
		ex.Servers = serversOf(sess.upstream(), settings)
	}
	if settings.chain.Len() == 0 {
		return ex // no stage reads the rest
	}
	ex.ClientIP = s.clientKey(r)
	ex.Claim = s.cfg.Clients.Claims(r)
	return ex
}

// holdCall suspends a request's request_timeout while a stage holds it,
// makes its POST answer as SSE, and returns the context of the hold: it ends with the session, and when
// the request ends otherwise (a notifications/cancelled the chain let
// through, an answer). ok is false when the request is no longer in flight.
func (s *Session) holdCall(key string) (ctx context.Context, ok bool) {
	s.mu.Lock()
	c := s.inflight[key]
	if c == nil {
		s.mu.Unlock()
		return nil, false
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	ctx, c.unhold = context.WithCancel(s.ctx)
	st := c.stream
	s.mu.Unlock()
	st.answerAsSSE() // decided when it is held: keep-alives and progress flow meanwhile
	return ctx, true
}

// releaseCall starts a held request's request_timeout again, in full.
func (s *Session) releaseCall(key string) {
	set := s.settings.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.inflight[key]; c != nil && c.timer != nil && set.requestTimeout > 0 {
		c.timer.Reset(set.requestTimeout)
	}
}

// toServer runs the chain on a client message of a session and forwards
// what it lets through. A message a stage holds goes on by itself.
//
// alone says m is the POST's only message: a request's answer is then all
// the handler waits for once it is sent, so the upstream may make the
// exchange on this goroutine (upstream.AwaitedSender).
func (s *Server) toServer(r *http.Request, sess *Session, ex *pipeline.Exchange, m *pipeline.Message, alone bool) {
	v := sess.settings.Load().chain.Start(r.Context(), ex, m)
	if v.Action != pipeline.Wait {
		s.afterClientStages(r.Context(), sess, m, v, alone && m.IsRequest())
		return
	}
	s.toServerHeld(r, sess, m, v)
}

// toServerHeld goes on with a message a stage holds, on a goroutine of its
// own. It is toServer's apart so that the closure it starts, which shares
// the verdict, does not move toServer's verdict to the heap on every
// message (one allocation per call where nothing is held).
func (s *Server) toServerHeld(r *http.Request, sess *Session, m *pipeline.Message, v pipeline.Verdict) {
	ctx := sess.ctx
	if m.IsRequest() {
		var ok bool
		if ctx, ok = sess.holdCall(m.IDKey()); ok {
			ctx = mcptrace.Carry(r.Context(), ctx) // the taps hear the hold's end in the request's span
		} else {
			// Cancelled or ended already: the stage hears that its hold is
			// over at once (a done context), and nothing goes on.
			done, cancel := context.WithCancel(sess.ctx)
			cancel()
			v.Pending.Resume(done)
			return
		}
	}
	held := func() {
		if m.IsRequest() {
			progressCtx, stop := context.WithCancel(ctx)
			sess.store.goTracked(func() { sess.heldProgress(progressCtx, m.IDKey()) })
			v = v.Pending.Resume(ctx)
			stop()
		} else {
			v = v.Pending.Resume(ctx)
		}
		if m.IsRequest() {
			if ctx.Err() != nil {
				return // cancelled, answered or ended while held: nothing goes on
			}
			sess.releaseCall(m.IDKey())
		}
		ctx, cancel := context.WithTimeout(mcptrace.Carry(r.Context(), sess.ctx), sendTimeout)
		defer cancel()
		s.afterClientStages(ctx, sess, m, v, false)
	}
	if !sess.store.goTracked(held) {
		if m.IsRequest() {
			sess.fail(m.IDKey(), pipeline.CodeConnectionClosed, "the gateway is shutting down")
		}
	}
}

// sendTimeout bounds the send of a message a stage held, whose POST may
// be long gone.
const sendTimeout = 30 * time.Second

// afterClientStages carries out the chain's verdict on a client message;
// awaited says the caller waits for nothing but its answer once it is sent
// (see toServer).
func (s *Server) afterClientStages(ctx context.Context, sess *Session, m *pipeline.Message, v pipeline.Verdict, awaited bool) {
	switch v.Action {
	case pipeline.Respond:
		if m.IsRequest() {
			if c := sess.takeCall(m.IDKey()); c != nil {
				c.policy = replyPolicy(v.Message)
				sess.respondCall(c, v.Message)
			}
		}
		return
	case pipeline.Drop:
		if m.IsRequest() {
			sess.refuse(m.IDKey(), pipeline.CodeInvalidRequest, "the gateway's policy blocked this request")
		}
		return
	}
	if sess.sse2024 && m.IsRequest() && m.Method == "server/discover" {
		sess.failWith(m.IDKey(), discoverInSSE2024(m.ID)) // sse2024.go
		return
	}
	if m.Method == "notifications/cancelled" {
		// Only a cancel the pipeline let through ends the request: a
		// stage that dropped or answered it cancelled nothing.
		sess.cancelled(v.Message)
	}
	conn := sess.upstream()
	msg := v.Message
	if c := sess.settings.Load().cluster; c != nil && m.IsRequest() {
		if msg = c.openTags(msg, sess.user); msg == nil { // clustertags.go
			sess.failWith(m.IDKey(), tags.Invalid(m.ID))
			return
		}
	}
	if m.IsRequest() {
		ctx, msg = sess.traceExchange(ctx, conn, msg) // tracing.go
	}
	var err error
	if awaited {
		err = upstream.SendAwaited(ctx, conn, msg)
	} else {
		err = conn.Send(ctx, msg)
	}
	if err != nil {
		if m.IsRequest() {
			msg, data := publicFailure(s.cfg.Logger, s.cfg.VerboseErrors, "the request could not be sent to the upstream MCP server",
				"sending a request to the upstream MCP server failed", err, zap.String("session", sess.id))
			sess.failWith(m.IDKey(), pipeline.NewErrorWithData(m.ID, pipeline.CodeConnectionClosed, msg, data))
		}
	}
}
