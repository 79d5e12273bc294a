package front

import (
	"net/http"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// ClientStream is the kind of an SSE stream a client holds open, for
// Observer.OnStream.
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

// clientStreamOf is the kind of the session stream tail serves.
func clientStreamOf(kind streamKind) ClientStream {
	switch kind {
	case standaloneStream:
		return StreamGet
	case sse2024Stream:
		return StreamSSE2024
	}
	return StreamPost
}

// askedRequest is a 2026-07-28 request as its client sent it, for
// Observer.OnAnswer: the zero value when there is no OnAnswer.
type askedRequest struct {
	m     *pipeline.Message
	user  string
	start time.Time
}

// asked notes request m of r for Observer.OnAnswer, before the pipeline.
func (s *Server) asked(r *http.Request, m *pipeline.Message) askedRequest {
	if s.settings.observer == nil {
		return askedRequest{}
	}
	return askedRequest{m: m, user: s.userID(r), start: time.Now()}
}

// statelessAnswered tells Observer.OnAnswer how the 2026-07-28 request
// asked was answered (answer nil: it was not, e.g. its client left first).
func (s *Server) statelessAnswered(w http.ResponseWriter, asked askedRequest, answer *pipeline.Message) {
	if on := s.settings.observer; on != nil && asked.m != nil && answer != nil && answer.IsResponse() {
		on.OnAnswer(Answered{Post: w, Method: asked.m.Method, Target: asked.m.Target(), Params: asked.m.Params,
			User: asked.user, Started: asked.start, Answer: answer})
	}
}
