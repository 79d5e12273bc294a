package front

import (
	"context"
	"errors"
	"net/http"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcptrace"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// The spans of a session's requests (mcptrace), when Caddy's tracing
// handler traces the POST: a request's span begins in dispatch and ends
// with the answer its client gets (respondCall); the span of its exchange
// with the server begins as it is sent and ends when the server's answer
// arrives, before the outbound stages. A 2026-07-28 request's spans are
// made in stateless.go, around its call. Untraced, none of this costs more
// than a context lookup per request and an atomic load per answer.

// errNoServerAnswer ends the span of an exchange whose request the gateway
// answered in the server's place (a request_timeout, a failed upstream).
var errNoServerAnswer = errors.New("the server did not answer")

// traceRequest begins the span of request m of a session, when *r is
// traced; *r then carries it for the stages, the taps and the upstream.
func (s *Server) traceRequest(r **http.Request, m *pipeline.Message, sess *Session, version string) *mcptrace.Request {
	ctx, tr := mcptrace.Start(*r, m, mcptrace.Info{SessionID: sess.id, ProtocolVersion: version}, s.cfg.Trace)
	if tr != nil {
		*r = (*r).WithContext(ctx)
	}
	return tr
}

// traceExchange begins the span of the exchange of request m with the
// server behind conn, when ctx carries the request's trace: m goes with the
// exchange's context in params._meta, and ctx with its headers for an HTTP
// upstream. Untraced, it returns ctx and m as they are.
func (s *Session) traceExchange(ctx context.Context, conn upstream.Conn, m *pipeline.Message) (context.Context, *pipeline.Message) {
	if mcptrace.FromContext(ctx) == nil {
		return ctx, m
	}
	out, header, end := upstream.TraceExchange(ctx, upstream.PeerOf(conn, s.up), m)
	if end == nil {
		return ctx, m
	}
	s.mu.Lock()
	c := s.inflight[m.IDKey()]
	if c == nil || c.exchangeEnd != nil {
		s.mu.Unlock()
		end(nil, errSessionClosed) // answered already (a timeout): nothing is sent on its behalf
		return ctx, m
	}
	c.exchangeEnd = end
	s.tracedExchanges.Add(1)
	s.mu.Unlock()
	return upstream.WithTraceHeader(ctx, header), out
}

// endExchange ends the span of the exchange that response m answers.
func (s *Session) endExchange(m *pipeline.Message) {
	s.mu.Lock()
	end := s.takeExchangeLocked(s.inflight[m.IDKey()])
	s.mu.Unlock()
	if end != nil {
		end(m, nil)
	}
}

// takeExchangeLocked takes c's open exchange span, if any.
func (s *Session) takeExchangeLocked(c *call) func(*pipeline.Message, error) {
	if c == nil || c.exchangeEnd == nil {
		return nil
	}
	end := c.exchangeEnd
	c.exchangeEnd = nil
	s.tracedExchanges.Add(-1)
	return end
}

// endTrace ends the spans of call c, answered with m: its exchange's, if
// the server never answered (the gateway did), and its own.
func (s *Session) endTrace(c *call, m *pipeline.Message) {
	s.mu.Lock()
	end := s.takeExchangeLocked(c)
	s.mu.Unlock()
	if end != nil {
		end(nil, errNoServerAnswer)
	}
	c.trace.End(m)
}
