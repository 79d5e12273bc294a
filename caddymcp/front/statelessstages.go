package front

import (
	"context"
	"net/http"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// statelessExchange describes a 2026-07-28 request: no session; the user, the
// claims and the client's address come from the request itself.
func (s *Server) statelessExchange(r *http.Request) *pipeline.Exchange {
	ex := &pipeline.Exchange{Direction: pipeline.ToServer, ProtocolVersion: Version20260728}
	if s.settings.chain.Len() == 0 {
		return ex
	}
	ex.User = s.userID(r)
	ex.ClientIP = s.clientKey(r)
	ex.Claim = s.cfg.Clients.Claims(r)
	return ex
}

// refuseStateless answers the 2026-07-28 request m that a stage dropped:
// on the stream of a hold, else with 403.
func (s *Server) refuseStateless(w http.ResponseWriter, m *pipeline.Message, held *statelessHold, asked askedRequest) {
	refusal := pipeline.NewError(m.ID, pipeline.CodeInvalidRequest, "the gateway's policy blocked this request")
	if m.IsRequest() {
		s.statelessAnswered(w, asked, refusal, PolicyBlocked)
	}
	if held != nil {
		held.answer(refusal)
		return
	}
	writeError(w, http.StatusForbidden, m.ID, pipeline.CodeInvalidRequest, "the gateway's policy blocked this request")
}

// statelessOutbound returns what the pipeline makes of each message a
// 2026-07-28 call delivers: it runs on the client's writer (the request's
// own goroutine), never on the upstream's reader, so a stage that waits
// holds up only this request. nil means the message goes no further; a
// response the pipeline stops becomes the gateway's error, since the client
// waits for an answer.
func (s *Server) statelessOutbound(ctx context.Context, req *pipeline.Exchange, m *pipeline.Message) func(*delivery) *delivery {
	chain := s.settings.chain
	if chain.Empty() {
		return func(d *delivery) *delivery { return d }
	}
	ex := *req
	ex.Direction = pipeline.ToClient
	ex.RequestMethod, ex.RequestTarget = m.Method, m.Target()
	return func(d *delivery) *delivery {
		if d.m == nil {
			return d
		}
		each := ex // a stage must not see another message's changes to its Exchange
		each.Gateway = d.gateway
		v := chain.Run(ctx, &each, d.m)
		switch {
		case v.Action == pipeline.Continue:
			return &delivery{m: v.Message, status: d.status, retryAfter: d.retryAfter, gateway: d.gateway}
		case d.m.IsResponse():
			return &delivery{m: pipeline.NewError(d.m.ID, pipeline.CodeInternalError, "the gateway's policy blocked the server's response"), status: d.status}
		}
		return nil
	}
}
