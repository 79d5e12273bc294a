package front

import "github.com/caddy-mcp/caddy-mcp/pipeline"

// Messages the gateway makes itself — its error answers (a request_timeout,
// an upstream that failed, a session that ended, a policy's refusal) and
// what it sends the server (the cancel of a request that timed out, the
// refusal of a server request a stage stopped) — go out through the two
// functions of this file, which pass them through the session's chain like the
// messages it relays (pipeline.Exchange.Gateway set), so that rules see
// them and tapes record them. With an empty chain they go out as before,
// at no cost.

// answerGateway answers call c (already taken from the calls in flight)
// with the gateway's own message m, once the chain has passed it.
func (s *Session) answerGateway(c *call, m *pipeline.Message) {
	chain := s.settings.Load().chain
	if chain.Empty() {
		s.respondCall(c, m)
		return
	}
	ex := s.gatewayExchange(pipeline.ToClient, c)
	v := chain.Start(s.ctx, ex, m)
	if v.Action == pipeline.Wait {
		pending := v.Pending
		if s.store.goTracked(func() { s.respondGateway(c, m, pending.Resume(s.ctx)) }) {
			return
		}
		v = pending.Resume(s.ctx)
	}
	s.respondGateway(c, m, v)
}

// respondGateway carries out the chain's verdict on the gateway's answer m
// to call c. The client gets an answer whatever the verdict: a stage that
// stopped it leaves the gateway's fixed refusal (which passes no chain, so
// nothing loops), and a wait the session's end cut short leaves m.
func (s *Session) respondGateway(c *call, m *pipeline.Message, v pipeline.Verdict) {
	switch {
	case v.Action == pipeline.Continue:
		s.respondCall(c, v.Message)
	case s.ctx.Err() != nil:
		s.respondCall(c, m) // nobody decided: the session ended first
	default:
		c.policy = PolicyBlocked
		s.respondCall(c, pipeline.NewError(c.id, pipeline.CodeInternalError, "the gateway's policy blocked the answer to this request"))
	}
}

// sendGateway sends the server the gateway's own message m (a cancel, a
// refusal) once the chain has passed it, without blocking the caller; a
// stage may stop it.
func (s *Session) sendGateway(m *pipeline.Message) {
	chain := s.settings.Load().chain
	if chain.Empty() {
		s.sendBackground(m)
		return
	}
	ex := s.gatewayExchange(pipeline.ToServer, nil)
	v := chain.Start(s.ctx, ex, m)
	if v.Action == pipeline.Wait {
		pending := v.Pending
		s.store.goTracked(func() {
			if v := pending.Resume(s.ctx); v.Action == pipeline.Continue {
				s.sendBackground(v.Message)
			}
		})
		return
	}
	if v.Action == pipeline.Continue {
		s.sendBackground(v.Message)
	}
}

// gatewayExchange describes a message the gateway makes in the session;
// for an answer to call c, the request it answers.
func (s *Session) gatewayExchange(dir pipeline.Direction, c *call) *pipeline.Exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	ex := &pipeline.Exchange{Direction: dir, SessionID: s.id, ProtocolVersion: s.version,
		User: s.user, Claim: s.claim, ClientIP: s.clientIP, Gateway: true, Servers: serversOf(s.conn, s.settings.Load())}
	if c != nil {
		ex.RequestMethod, ex.RequestTarget = c.method, c.target
		if c.claim != nil {
			ex.Claim = c.claim
		}
	}
	return ex
}
