package front

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcptrace"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// The Server crosses into the program that hosts it (the Caddy handler)
// through two interfaces only: Clients, which it asks who sent a request,
// and Observer, which it tells what happened. A tools/call reads them in
// this order: Clients.User (the session's owner), Clients.Claims and
// Clients.Key (for the stages, when there are any), Observer.OnRequest
// (placeholders, log fields), Observer.OnAnswer (metrics, the call log),
// and Observer.OnStream around an SSE answer.

// Clients tells a Server who sent a request. nil in Config: anonymous
// clients, known by their connection's remote address (NoClients).
type Clients interface {
	// User is the authenticated user of r ("" if none); sessions are
	// bound to the user that created them.
	User(r *http.Request) string
	// Key names the client of r for the bounds on its requests in flight
	// (2026-07-28 requests have no session) and its sessions; "" falls
	// back to the connection's remote address.
	Key(r *http.Request) string
	// Claims is the lookup of the authenticated user's claims (name →
	// value, as Caddy's auth sets {http.auth.user.<name>}), which the
	// pipeline's stages read; nil means none.
	Claims(r *http.Request) func(name string) (string, bool)
	// PublicPath is the escaped path r was sent to, before any rewrite in
	// front of the Server (such as a stripped path prefix), for the
	// 2024-11-05 endpoint event that tells a client where to POST.
	PublicPath(r *http.Request) string
}

// NoClients is the Clients of a Server without authentication: no user,
// no claims, the request's own path.
type NoClients struct{}

// User implements Clients: nobody.
func (NoClients) User(*http.Request) string { return "" }

// Key implements Clients: the remote address.
func (NoClients) Key(*http.Request) string { return "" }

// Claims implements Clients: none.
func (NoClients) Claims(*http.Request) func(string) (string, bool) { return nil }

// PublicPath implements Clients: the request's own path.
func (NoClients) PublicPath(r *http.Request) string { return r.URL.EscapedPath() }

// Observer is told what a Server does, for placeholders, logs, metrics and
// the call log. nil in Config: nobody listens, and the Server skips the
// work of describing. Its methods must be quick and keep nothing they are
// lent (copy what is kept).
type Observer interface {
	// OnRequest is told what each parsed POST asks, before anything is
	// answered, and told again when the session or revision becomes known
	// later. It runs on the request's goroutine and must not keep info. w
	// is the ResponseWriter the POST is being answered on at that point,
	// the one the Server was given or a wrapper of it.
	OnRequest(w http.ResponseWriter, r *http.Request, info *RequestInfo)
	// OnAnswer is told of the answer each request gets — the server's, a
	// pipeline stage's, or the gateway's own error — with what the
	// request asked. It runs on whatever goroutine answers and must keep
	// neither a.Params nor a.Answer. For a stateless (2026-07-28) request
	// a.Post is the request's own writer and the call is told before its
	// handler returns.
	OnAnswer(a Answered)
	// OnStream is told when a client's SSE stream opens (delta 1) and
	// closes (-1), with its kind. It runs on the stream's goroutine.
	OnStream(kind ClientStream, delta int)
}

// Answered is what Observer.OnAnswer is told of one answered request.
type Answered struct {
	// Post is the writer of the POST that carried the request (whose
	// handler may have returned already).
	Post http.ResponseWriter
	// Method is the request's method.
	Method string
	// Target is what the request names (pipeline.Message.Target): the
	// tool of a tools/call.
	Target string
	// Params is the request's params as its client sent them (nil if it
	// had none). It aliases the request's bytes: copy what is kept.
	Params json.RawMessage
	// Session is the session id the client holds; "" for a stateless
	// (2026-07-28) request.
	Session string
	// User is the authenticated user of the request ("" if none).
	User string
	// Started is when the gateway took the request, before the pipeline
	// (a held request's time held is in its duration).
	Started time.Time
	// Answer is the response the client gets.
	Answer *pipeline.Message
	// Policy says whether a pipeline stage decided Answer (blocked,
	// mocked) rather than the server.
	Policy Policy
	// Cached says the upstream's answer came from the gateway's cache
	// (pipeline.Message.Cached), for logs and spans.
	Cached bool
}

// userID is the authenticated user of r.
func (s *Server) userID(r *http.Request) string { return s.cfg.Clients.User(r) }

// clientKey names the client of r, the key that bounds its requests in
// flight and its sessions: Clients.Key, else the remote address.
func (s *Server) clientKey(r *http.Request) string {
	if k := s.cfg.Clients.Key(r); k != "" {
		return k
	}
	return clientAddr(r)
}

// describe hands the description of a request to Observer.OnRequest.
func (s *Server) describe(w http.ResponseWriter, r *http.Request, info *RequestInfo) {
	if s.cfg.Observer != nil {
		s.cfg.Observer.OnRequest(w, r, info)
	}
}

// streamOpen tells Observer.OnStream that a stream of kind opened (delta 1)
// or closed (-1).
func (s *Server) streamOpen(kind ClientStream, delta int) {
	if s.cfg.Observer != nil {
		s.cfg.Observer.OnStream(kind, delta)
	}
}

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
	trace *mcptrace.Request // the request's span; nil when not traced
}

// asked notes request m of r for Observer.OnAnswer and its span, before
// the pipeline.
func (s *Server) asked(r *http.Request, m *pipeline.Message) askedRequest {
	tr := mcptrace.FromContext(r.Context())
	if s.settings.observer == nil {
		return askedRequest{trace: tr}
	}
	return askedRequest{m: m, user: s.userID(r), start: time.Now(), trace: tr}
}

// statelessAnswered tells Observer.OnAnswer and the request's span how the
// 2026-07-28 request asked was answered (answer nil: it was not, e.g. its
// client left first), and whether a stage decided it.
func (s *Server) statelessAnswered(w http.ResponseWriter, asked askedRequest, answer *pipeline.Message, policy Policy) {
	if answer != nil && answer.IsResponse() {
		asked.trace.End(answer)
	}
	if on := s.settings.observer; on != nil && asked.m != nil && answer != nil && answer.IsResponse() {
		on.OnAnswer(Answered{Post: w, Method: asked.m.Method, Target: asked.m.Target(), Params: asked.m.Params,
			User: asked.user, Started: asked.start, Answer: answer, Policy: policy, Cached: answer.Cached})
	}
}
