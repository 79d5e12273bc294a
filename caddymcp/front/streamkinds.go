package front

import (
	"net/http"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// ClientStream is the kind of an SSE stream a client holds open, for
// Config.OnStream.
type ClientStream int

// The kinds of client streams.
const (
	// StreamPost is the SSE answer of a 2025 POST, or its resumption.
	StreamPost ClientStream = iota
	// StreamGet is a 2025 session's standalone GET stream.
	StreamGet
	// StreamSSE2024 is a 2024-11-05 (HTTP+SSE) session's event stream.
	StreamSSE2024
	// StreamStateless is the SSE answer of a 2026-07-28 request.
	StreamStateless
	// StreamListen is a 2026-07-28 subscriptions/listen stream.
	StreamListen
	// NumClientStreams is the number of kinds.
	NumClientStreams
)

// String is the kind's name as metrics show it.
func (k ClientStream) String() string {
	switch k {
	case StreamPost:
		return "post"
	case StreamGet:
		return "get"
	case StreamSSE2024:
		return "sse_2024"
	case StreamStateless:
		return "stateless"
	case StreamListen:
		return "listen"
	}
	return "unknown"
}

// streamOpen tells Config.OnStream that a stream of kind opened (delta 1)
// or closed (-1).
func (s *Server) streamOpen(kind ClientStream, delta int) {
	if s.cfg.OnStream != nil {
		s.cfg.OnStream(kind, delta)
	}
}

// clientStreamOf is the kind of the session stream pump serves.
func clientStreamOf(kind streamKind) ClientStream {
	switch kind {
	case standaloneStream:
		return StreamGet
	case legacyStream:
		return StreamSSE2024
	}
	return StreamPost
}

// statelessAnswered tells Config.OnAnswer how the 2026-07-28 request req
// was answered (answer nil: it was not, e.g. its client left first).
func (s *Server) statelessAnswered(w http.ResponseWriter, req, answer *pipeline.Message) {
	if on := s.settings.onAnswer; on != nil && answer != nil && answer.IsResponse() {
		on(w, req.Method, req.Target(), answer)
	}
}
