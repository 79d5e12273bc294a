package front

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// How the pipeline runs (DESIGN.md, the pipeline's execution model): the
// upstream's readers only hand a session's server messages to the session's
// outbound worker, which runs the chain on them in order, off the reader. A
// stage that waits (a delay) lets its message go on by itself
// (pipeline.Chain.Start), so it holds up only that message. Client messages
// run the chain on their POST's goroutine, and one that waits goes on by
// itself as well, with its request_timeout suspended meanwhile. With no
// stages none of this exists: deliver runs as before.

// outboundQueue is how many server messages may wait for a session's
// outbound worker before the upstream's reader waits too.
const outboundQueue = 256

// maxWaiting bounds a session's messages that wait in a stage at once;
// beyond it a waiting message is waited for in place (backpressure).
const maxWaiting = 256

// outbound is one server message on its way to the session's worker, or
// (closed) the upstream's end, which comes after its last message.
type outbound struct {
	m       *pipeline.Message
	related json.RawMessage
	closed  error
	isEnd   bool
}

// endAfterOutbound queues the upstream's end behind the server messages
// the worker still has, so that a server that answers and exits is heard
// first; false if the session ended already.
func (s *Session) endAfterOutbound(err error) bool {
	p := s.pipelineOf()
	if p == nil {
		return false
	}
	select {
	case p.queue <- outbound{closed: err, isEnd: true}:
		return true
	case <-s.ctx.Done():
		return true // ended already
	}
}

// sessionPipeline is a session's part of the execution model, made when
// the first message meets a chain with stages.
type sessionPipeline struct {
	queue   chan outbound
	waiting chan struct{} // a slot per message waiting in a stage
}

// pipelineOf returns the session's pipeline, starting its worker once.
func (s *Session) pipelineOf() *sessionPipeline {
	s.pipeOnce.Do(func() {
		p := &sessionPipeline{queue: make(chan outbound, outboundQueue), waiting: make(chan struct{}, maxWaiting)}
		if s.store.goTracked(func() { s.runOutbound(p) }) {
			s.pipe = p
		}
	})
	return s.pipe
}

// enqueueOutbound hands a server message to the worker; false if the
// session ended (the message goes nowhere: its session is gone).
func (s *Session) enqueueOutbound(m *pipeline.Message, related json.RawMessage) bool {
	p := s.pipelineOf()
	if p == nil {
		return false
	}
	select {
	case p.queue <- outbound{m: m, related: related}:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// runOutbound is the session's outbound worker.
func (s *Session) runOutbound(p *sessionPipeline) {
	for {
		select {
		case o := <-p.queue:
			if o.isEnd {
				s.endUpstreamGone(o.closed)
				return
			}
			s.outboundStages(p, o.m, o.related)
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *Session) outboundStages(p *sessionPipeline, m *pipeline.Message, related json.RawMessage) {
	set := s.settings.Load()
	ex := s.clientExchange(m)
	v := set.chain.Start(s.ctx, ex, m)
	if v.Action != pipeline.Wait {
		s.afterStages(m, related, v)
		return
	}
	select {
	case p.waiting <- struct{}{}:
		if s.store.goTracked(func() {
			defer func() { <-p.waiting }()
			s.afterStages(m, related, v.Pending.Resume(s.ctx))
		}) {
			return
		}
		<-p.waiting
	default:
	}
	s.afterStages(m, related, v.Pending.Resume(s.ctx))
}

// clientExchange describes a server message: the session, its user, and
// for a response the request it answers.
func (s *Session) clientExchange(m *pipeline.Message) *pipeline.Exchange {
	s.mu.Lock()
	ex := &pipeline.Exchange{Direction: pipeline.ToClient, SessionID: s.id, ProtocolVersion: s.version,
		User: s.user, Claim: s.claim, ClientIP: s.clientIP}
	if m.IsResponse() {
		if c := s.inflight[m.IDKey()]; c != nil {
			ex.RequestMethod, ex.RequestTarget = c.method, c.target
			if c.claim != nil {
				ex.Claim = c.claim
			}
		}
	}
	s.mu.Unlock()
	return ex
}

// afterStages carries out the chain's verdict on a server message.
func (s *Session) afterStages(m *pipeline.Message, related json.RawMessage, v pipeline.Verdict) {
	switch v.Action {
	case pipeline.Drop, pipeline.Respond:
		switch {
		case m.IsResponse():
			s.fail(m.IDKey(), pipeline.CodeInternalError, "the gateway's policy blocked the server's response")
		case m.IsRequest() && v.Action == pipeline.Respond:
			s.sendBackground(v.Message)
		case m.IsRequest():
			s.sendGateway(pipeline.NewError(m.ID, pipeline.CodeInvalidRequest, "the gateway's policy blocked this request"))
		}
		return
	}
	s.deliverOn(v.Message, related)
}

// requestExchange describes a client message of a session.
func (s *Server) requestExchange(r *http.Request, sess *Session, version string) *pipeline.Exchange {
	ex := &pipeline.Exchange{Direction: pipeline.ToServer, SessionID: sess.id, ProtocolVersion: version, User: sess.user}
	if sess.settings.Load().chain.Len() == 0 {
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
func (s *Server) toServer(r *http.Request, sess *Session, ex *pipeline.Exchange, m *pipeline.Message) {
	v := sess.settings.Load().chain.Start(r.Context(), ex, m)
	if v.Action != pipeline.Wait {
		s.afterClientStages(r.Context(), sess, m, v)
		return
	}
	ctx := sess.ctx
	if m.IsRequest() {
		var ok bool
		if ctx, ok = sess.holdCall(m.IDKey()); !ok {
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
		ctx, cancel := context.WithTimeout(sess.ctx, sendTimeout)
		defer cancel()
		s.afterClientStages(ctx, sess, m, v)
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

// afterClientStages carries out the chain's verdict on a client message.
func (s *Server) afterClientStages(ctx context.Context, sess *Session, m *pipeline.Message, v pipeline.Verdict) {
	switch v.Action {
	case pipeline.Respond:
		if m.IsRequest() {
			if c := sess.takeCall(m.IDKey()); c != nil {
				sess.respondCall(c, v.Message)
			}
		}
		return
	case pipeline.Drop:
		if m.IsRequest() {
			sess.fail(m.IDKey(), pipeline.CodeInvalidRequest, "the gateway's policy blocked this request")
		}
		return
	}
	if m.Method == "notifications/cancelled" {
		// Only a cancel the pipeline let through ends the request: a
		// stage that dropped or answered it cancelled nothing.
		sess.cancelled(v.Message)
	}
	conn := sess.upstream()
	if err := conn.Send(ctx, v.Message); err != nil {
		if m.IsRequest() {
			msg, data := publicFailure(s.cfg.Logger, s.cfg.VerboseErrors, "the request could not be sent to the upstream MCP server",
				"sending a request to the upstream MCP server failed", err, zap.String("session", sess.id))
			sess.failWith(m.IDKey(), pipeline.NewErrorWithData(m.ID, pipeline.CodeConnectionClosed, msg, data))
		}
	}
}
