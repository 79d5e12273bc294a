package front

import (
	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"go.uber.org/zap"
)

// How a session ends: by its client (DELETE, the 2024-11-05 stream
// closing), by its upstream (Closed), by idleness or eviction (endIf).

// Closed ends the session when the server side ended (upstream.Receiver).
func (s *Session) Closed(err error) {
	if s.settings.Load().chain.Len() > 0 && s.endAfterOutbound(err) {
		return // the outbound worker ends the session after what it still has (stages_outbound.go)
	}
	s.endUpstreamGone(err)
}

// endUpstreamGone is Closed once the server's messages before it are
// delivered: the session ends with the upstream's failure as its reason.
func (s *Session) endUpstreamGone(err error) {
	set := s.settings.Load()
	reason, data := publicFailure(set.logger, set.verboseErrors, "the upstream MCP server ended; initialize a new session",
		"upstream MCP server ended; closing its session", err, zap.String("session", s.id))
	s.mu.Lock()
	s.endData = &data
	s.mu.Unlock()
	s.end(reason)
}

// end ends the session: requests in flight are answered with an error,
// streams end, the upstream connection closes, and the id is forgotten, so
// the client's next request gets 404 and it initializes again.
func (s *Session) end(reason string) { s.endWith(reason, nil) }

// endWith is end with a last word: last runs once the session counts as
// ended (no request finds it any more) and before its streams close.
func (s *Session) endWith(reason string, last func()) { s.endIf(reason, nil, last) }

// endIf ends the session if only (checked under the session's lock) is nil
// or holds, and reports whether it did; last is endWith's.
func (s *Session) endIf(reason string, only func() bool, last func()) bool {
	s.mu.Lock()
	if s.closed || (only != nil && !only()) {
		s.mu.Unlock()
		return false
	}
	s.closed = true
	calls := s.inflight
	s.inflight = nil
	var data any
	if s.endData != nil {
		data = *s.endData
	}
	streams := make([]*stream, 0, len(s.streams))
	for _, st := range s.streams {
		streams = append(streams, st)
	}
	s.mu.Unlock()

	s.store.remove(s)
	if last != nil {
		last()
	}
	s.cancel()
	for _, c := range calls {
		if c.timer != nil {
			c.timer.Stop()
		}
		s.answerGateway(c, pipeline.NewErrorWithData(c.id, pipeline.CodeConnectionClosed, "session ended: "+reason, data))
	}
	for _, st := range streams {
		st.close()
		st.release()
	}
	if conn := s.upstream(); conn != nil {
		s.closeUpstream(conn)
	}
	return true
}

// isClosed reports whether the session has ended.
func (s *Session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
