package front

import (
	"encoding/json"
	"net/http"
	"net/url"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// The 2024-11-05 HTTP+SSE transport, served on the Streamable HTTP endpoint
// for old clients (docs/transports.md, "The 2024-11-05 transport" and
// "Telling the eras apart"):
//
//   - a GET without Mcp-Session-Id that accepts text/event-stream opens a
//     2024-11-05 session and answers an SSE stream whose first event is
//     `endpoint`, the URI to POST to: this path with ?sessionId=<id>;
//   - a POST with ?sessionId=<id> (and no Mcp-Session-Id) carries a client
//     message; it is answered 202 at once, and the reply comes on the stream;
//   - every server message of the session, responses included, goes to that
//     one stream (the session's GET stream) as a `message` event;
//   - closing the stream ends the session and its upstream work.
//
// A 2024-11-05 session is a Session like any other (same store, upstream,
// pipeline and request bookkeeping); only its streams differ.

// sse2024SessionID returns the session id of a 2024-11-05 POST: one that names
// its session in the sessionId query parameter and has no Mcp-Session-Id.
func sse2024SessionID(r *http.Request) (string, bool) {
	if r.Header.Get("Mcp-Session-Id") != "" || r.URL.RawQuery == "" {
		return "", false
	}
	q := r.URL.Query()
	if !q.Has("sessionId") {
		return "", false
	}
	return q.Get("sessionId"), true
}

// newSSE2024Session returns a session of the HTTP+SSE transport. Its GET
// stream carries the responses too, so it never ends on its own: it holds
// one expected response that never comes, and ends when the session does.
func newSSE2024Session(store *Store, user string, settings *sessionSettings) *Session {
	sess := newSession(store, user, settings, Version20241105)
	sess.sse2024 = true
	sess.streams[getStreamIndex].expect()
	return sess
}

// serveSSE2024Get opens a 2024-11-05 session and serves its event stream until
// the client goes away, the session ends, or the process exits. The stream
// stays with this configuration at a reload: its client could not resume
// elsewhere.
func (s *Server) serveSSE2024Get(w http.ResponseWriter, r *http.Request) {
	sess := newSSE2024Session(s.cfg.Store, s.userID(r), s.settings)
	if !s.startSession(w, r, sess, nil) {
		return
	}
	defer sess.end("its 2024-11-05 SSE stream ended (the client left, or the gateway is exiting)")
	log := s.cfg.Logger.With(zap.String("session", sess.id))
	log.Debug("opened a 2024-11-05 HTTP+SSE session")
	defer log.Debug("the 2024-11-05 HTTP+SSE session ended")

	st := sess.stream(getStreamIndex)
	sess.readers.Add(1)
	defer sess.readers.Add(-1)
	takenOver := st.attach()
	defer st.detach(takenOver)
	// An upstream that holds a stream of its own for unrelated messages
	// (HTTP) holds it while the client listens: here, for the whole session.
	if l, ok := sess.upstream().(upstream.Listener); ok {
		l.Listen(true)
		defer l.Listen(false)
	}
	sw := startSSE(w, http.StatusOK)
	sw.named("endpoint", []byte(sse2024Endpoint(s.cfg.Clients.PublicPath(r), sess.id)))
	if sw.flush() != nil {
		return
	}
	s.tail(r, sess, st, 0, sw, takenOver, sse2024Stream)
}

// sse2024Endpoint is the URI a 2024-11-05 client POSTs to, given the escaped
// path it opened its stream at: relative, so that it holds behind any host
// name, port and TLS.
func sse2024Endpoint(path, id string) string {
	if path == "" {
		path = "/"
	}
	return path + "?sessionId=" + url.QueryEscape(id)
}

// serveSSE2024Post handles a client message of a 2024-11-05 session, already
// checked and parsed by servePost. Its answer is 202; replies take the
// session's event stream.
func (s *Server) serveSSE2024Post(w http.ResponseWriter, r *http.Request, id string, msgs []*pipeline.Message, batch bool, headerVersion string) {
	sess, version, ok := s.postSession(w, r, id, true, msgs, batch, headerVersion)
	if !ok {
		return
	}
	for _, m := range msgs {
		if m.Method != "initialize" {
			continue
		}
		if batch {
			writeError(w, http.StatusBadRequest, m.ID, pipeline.CodeInvalidRequest, "Bad Request: initialize must not be part of a batch")
			return
		}
		if !m.IsRequest() {
			writeError(w, http.StatusBadRequest, nil, pipeline.CodeInvalidRequest, "Bad Request: initialize must be a request with an id")
			return
		}
	}
	s.dispatch(w, r, sess, msgs, version)
}

// discoverInSSE2024 answers a server/discover sent in a 2024-11-05
// session — the probe a dual-era client (the go-sdk's) makes first, over
// whatever transport — as a server of the session revisions does: -32601,
// which such a client reads as "initialize instead". The upstream never
// sees it: a 2026-07-28 exchange half-begun in a session the gateway
// serves at a 2025 revision would leave the session without its
// initialize.
func discoverInSSE2024(id json.RawMessage) *pipeline.Message {
	return pipeline.NewError(id, pipeline.CodeMethodNotFound,
		"server/discover is a 2026-07-28 request; this 2024-11-05 HTTP+SSE session serves the revisions up to 2025-11-25: send initialize")
}

// writeTransportMismatch refuses a request that names a session of the
// other transport.
func writeTransportMismatch(w http.ResponseWriter, sessionIsSSE2024 bool) {
	msg := "Bad Request: this session uses the 2024-11-05 HTTP+SSE transport: POST its messages to the URI of its " +
		"SSE stream's endpoint event (?sessionId=…) without Mcp-Session-Id; it has no other GET stream and no DELETE " +
		"(close the SSE stream to end it)"
	if !sessionIsSSE2024 {
		msg = "Bad Request: this session uses Streamable HTTP: send its id in the Mcp-Session-Id header, not in ?sessionId="
	}
	writeError(w, http.StatusBadRequest, nil, pipeline.CodeInvalidRequest, msg)
}
