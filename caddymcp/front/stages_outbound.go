package front

import (
	"encoding/json"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// How the pipeline runs (docs/architecture.md, "The pipeline's execution
// model"): the
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
		User: s.user, Claim: s.claim, ClientIP: s.clientIP, Servers: serversOf(s.conn, s.settings.Load())}
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
			s.refuse(m.IDKey(), pipeline.CodeInternalError, "the gateway's policy blocked the server's response")
		case m.IsRequest() && v.Action == pipeline.Respond:
			s.sendBackground(v.Message)
		case m.IsRequest():
			s.sendGateway(pipeline.NewError(m.ID, pipeline.CodeInvalidRequest, "the gateway's policy blocked this request"))
		}
		return
	}
	if m.IsResponse() {
		s.markPolicy(m.IDKey(), replacedPolicy(m, v.Message))
	}
	s.deliverOn(v.Message, related)
}
