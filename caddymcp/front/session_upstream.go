package front

import (
	"context"
	"encoding/json"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"go.uber.org/zap"
)

// A session's upstream connection: what it sends there, and how what the
// server delivers finds its client stream (route).

// sendBackground sends a message of the gateway's own (a cancellation, a
// stage's answer to a server request) without blocking the caller.
func (s *Session) sendBackground(m *pipeline.Message) {
	conn := s.upstream()
	if conn == nil {
		return
	}
	s.store.goTracked(func() {
		ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		defer cancel()
		_ = conn.Send(ctx, m)
	})
}

// upstream returns the session's upstream connection (nil while opening).
func (s *Session) upstream() upstream.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// attachUpstream sets the connection once it opened. It reports false if
// the session ended meanwhile; the caller then closes conn.
func (s *Session) attachUpstream(conn upstream.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conn = conn
	s.spare() // until the client has had the time to finish its handshake
	return true
}

// Deliver routes one message from the server (upstream.Receiver).
func (s *Session) Deliver(m *pipeline.Message) { s.deliver(m, nil) }

// DeliverRelated routes a server message that the upstream knows belongs to
// the client request requestID (upstream.RelatedReceiver): it takes that
// request's stream while the request is in flight.
func (s *Session) DeliverRelated(m *pipeline.Message, requestID json.RawMessage) {
	s.deliver(m, requestID)
}

func (s *Session) deliver(m *pipeline.Message, related json.RawMessage) {
	if m.IsResponse() && s.tracedExchanges.Load() > 0 {
		s.endExchange(m) // as it arrives, before the stages (tracing.go)
	}
	set := s.settings.Load()
	if set.cluster != nil {
		m = set.cluster.sealTags(m, s.user) // clustertags.go
	}
	if set.heard != nil && m.Kind == pipeline.KindNotification {
		set.heard(m)
	}
	switch chain := set.chain; {
	case chain.Len() > 0:
		s.enqueueOutbound(m, related) // the stages run off the reader (stages_outbound.go)
	case !chain.Empty():
		// Taps alone never wait: they hear the message on the reader.
		s.afterStages(m, related, chain.Start(s.ctx, s.clientExchange(m), m))
	default:
		s.deliverOn(m, related)
	}
}

// deliverOn routes a server message that passed the pipeline.
func (s *Session) deliverOn(m *pipeline.Message, related json.RawMessage) {
	set := s.settings.Load()
	if m.IsResponse() {
		c := s.takeCall(m.IDKey())
		if c == nil {
			if ce := set.logger.Check(zap.DebugLevel, "dropped a response to no request in flight (cancelled or timed out)"); ce != nil {
				ce.Write(zap.String("session", s.id), zap.ByteString("id", m.ID))
			}
			return
		}
		if c.method == "initialize" {
			if m.Error != nil {
				// The session ends before the answer goes out, so the
				// client's next request already finds it gone.
				s.endWith("the upstream MCP server refused initialize", func() { s.respondCall(c, m) })
				return
			}
			if v := m.ResultProtocolVersion(); v != "" {
				s.setVersion(v)
			}
			if set.cluster != nil {
				set.cluster.sealID(s) // before the call log hears the answer (clusterserve.go)
			}
		}
		s.respondCall(c, m)
		return
	}
	if m.Method == "notifications/progress" && s.hasShifts() {
		if m = s.shiftProgress(m); m == nil {
			return
		}
	}
	s.route(m, related).append(m)
}

// route picks the stream for a server request or notification. A message
// the upstream relates to a request in flight takes that request's stream.
// stdio carries no such link, so: progress goes to
// the stream of the request that holds its token; requests and log messages
// go to the POST stream of the only request in flight; everything else, and
// anything ambiguous, goes to the GET stream, whose buffer holds it until a
// client listens.
func (s *Session) route(m *pipeline.Message, related json.RawMessage) *stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	if related != nil {
		if c := s.inflight[string(related)]; c != nil {
			return c.stream
		}
	}
	switch {
	case m.Method == "notifications/progress":
		if st := s.tokens[string(m.NotificationProgressToken())]; st != nil {
			return st
		}
	case m.IsRequest() || m.Method == "notifications/message":
		if len(s.inflight) == 1 {
			for _, c := range s.inflight {
				return c.stream
			}
		}
	}
	return s.streams[getStreamIndex]
}
