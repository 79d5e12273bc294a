package front

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// servePost handles a client message (or a 2025-03-26 batch), over
// Streamable HTTP or, for a POST that names its session in the query, the
// 2024-11-05 HTTP+SSE transport.
func (s *Server) servePost(w http.ResponseWriter, r *http.Request) {
	sse2024ID, sse2024 := sse2024SessionID(r)
	if !isJSONContent(r) {
		writeError(w, http.StatusUnsupportedMediaType, nil, pipeline.CodeInvalidRequest,
			"Unsupported Media Type: POST bodies must be Content-Type: application/json")
		return
	}
	// A 2024-11-05 POST is answered 202 with no body, whatever it accepts.
	if !sse2024 && !accepts(r, "application/json", "text/event-stream") {
		writeError(w, http.StatusNotAcceptable, nil, pipeline.CodeInvalidRequest,
			"Not Acceptable: the client must accept both application/json and text/event-stream")
		return
	}
	headerVersion := r.Header.Get("Mcp-Protocol-Version")
	msgs, batch, ok := s.readMessages(w, r)
	if !ok {
		return
	}
	// Newer stateless revisions are refused by serveStateless, after the
	// check of the route's era (a sessions-only route answers as one).
	if v := unservedVersion(headerVersion, msgs); v != "" && !isStatelessVersion(v) {
		writeUnsupportedVersion(w, firstID(msgs), v)
		return
	}
	info := DescribeRequest(r, msgs, batch)
	s.describe(w, r, &info)
	if sse2024 {
		// A POST to a 2024-11-05 session's endpoint is that session's,
		// whatever its _meta or headers say (a dual-era client's
		// server/discover probe, which the session answers), and is
		// served at the session's revision rather than at 2026-07-28.
		if isStatelessVersion(headerVersion) {
			headerVersion = ""
		}
		s.serveSSE2024Post(w, r, sse2024ID, msgs, batch, headerVersion)
		return
	}
	for _, m := range msgs {
		if isStatelessVersion(headerVersion) || isStatelessVersion(m.MetaProtocolVersion()) {
			// Stateless MCP (2026-07-28): sessions and their headers play
			// no part (docs/transports.md, "Telling the eras apart",
			// classifying each request).
			s.serveStateless(w, r, msgs, batch)
			return
		}
	}
	if len(msgs) == 1 && msgs[0].Method == "initialize" {
		if batch {
			writeError(w, http.StatusBadRequest, msgs[0].ID, pipeline.CodeInvalidRequest, "Bad Request: initialize must not be part of a batch")
			return
		}
		s.initialize(w, r, msgs[0], &info)
		return
	}
	sess, version, ok := s.postSession(w, r, r.Header.Get("Mcp-Session-Id"), false, msgs, batch, headerVersion)
	if !ok {
		return
	}
	if info.ProtocolVersion == "" {
		info.ProtocolVersion = version
		s.describe(w, r, &info)
	}
	for _, m := range msgs {
		if m.Method == "initialize" {
			writeError(w, http.StatusBadRequest, m.ID, pipeline.CodeInvalidRequest, "Bad Request: initialize must be sent alone")
			return
		}
	}
	s.dispatch(w, r, sess, msgs, version)
}

// readMessages reads and parses a POST's body, at most max_message_size
// bytes. When ok is false it has answered the client.
func (s *Server) readMessages(w http.ResponseWriter, r *http.Request) (msgs []*pipeline.Message, batch, ok bool) {
	b := bodyBufs.Get().(*bodyBuf)
	defer releaseBodyBuf(b)
	// One byte past the limit tells a body that is too large from one that
	// fills it exactly (http.MaxBytesReader's way, without its allocation).
	b.limit = io.LimitedReader{R: r.Body, N: s.cfg.MaxMessageSize + 1}
	_, err := b.buf.ReadFrom(&b.limit)
	b.limit.R = nil
	body := b.buf.Bytes()
	switch {
	case int64(len(body)) > s.cfg.MaxMessageSize:
		writeError(w, http.StatusRequestEntityTooLarge, nil, pipeline.CodeInvalidRequest,
			"Request Entity Too Large: the message exceeds max_message_size ("+strconv.FormatInt(s.cfg.MaxMessageSize, 10)+" bytes)")
		return nil, false, false
	case err != nil:
		writeError(w, http.StatusBadRequest, nil, pipeline.CodeParseError, "Bad Request: reading the body failed: "+err.Error())
		return nil, false, false
	}
	// Refused here too (400, -32600): a message that readers would read
	// differently (members Go takes for one, or what a rule reads spelled
	// otherwise), before any stage or the upstream sees it.
	msgs, batch, err = s.cfg.Watch.ParseBody(body)
	if err != nil {
		code := pipeline.CodeInvalidRequest
		if errors.Is(err, pipeline.ErrParse) {
			code = pipeline.CodeParseError
		}
		writeError(w, http.StatusBadRequest, nil, code, err.Error())
		return nil, false, false
	}
	return msgs, batch, true
}

// bodyBufs recycles the buffers POST bodies are read into: ParseBody copies
// what its messages keep, so a buffer is free again once it returns, and a
// body no longer costs a buffer grown from 512 bytes each call.
var bodyBufs = sync.Pool{New: func() any { return new(bodyBuf) }}

// bodyBuf is a POST body's buffer and the reader that bounds it.
type bodyBuf struct {
	buf   bytes.Buffer
	limit io.LimitedReader
}

// maxPooledBody is the largest body buffer kept for reuse: any body of the
// default max_message_size, not one that a raised limit let grow huge.
const maxPooledBody = DefaultMaxMessageSize

func releaseBodyBuf(b *bodyBuf) {
	if b.buf.Cap() <= maxPooledBody {
		b.buf.Reset()
		bodyBufs.Put(b)
	}
}

// postSession is the prologue of a POST to a session of either transport
// (sse2024: the 2024-11-05 one, which names it in the query): the session
// id it names, the session (lookupSession) and the revision it is served at
// (requestVersion). When ok is false it has answered the client.
func (s *Server) postSession(w http.ResponseWriter, r *http.Request, id string, sse2024 bool, msgs []*pipeline.Message, batch bool, headerVersion string) (sess *Session, version string, ok bool) {
	if id == "" {
		msg := "Bad Request: Mcp-Session-Id header is required (send initialize first to get a session)"
		if sse2024 {
			msg = "Bad Request: the sessionId query parameter is empty; POST to the URI of the SSE stream's endpoint event"
		}
		writeError(w, http.StatusBadRequest, firstID(msgs), pipeline.CodeInvalidRequest, msg)
		return nil, "", false
	}
	if sess = s.lookupSession(w, r, id, sse2024); sess == nil {
		return nil, "", false
	}
	version, ok = requestVersion(w, sess, headerVersion, batch)
	return sess, version, ok
}

// requestVersion is the revision a session request is served at: its
// MCP-Protocol-Version header, else the session's negotiated one. A batch at
// a revision without batches is answered 400 here (ok is false).
func requestVersion(w http.ResponseWriter, sess *Session, headerVersion string, batch bool) (version string, ok bool) {
	version = headerVersion
	if version == "" {
		version = sess.Version()
	}
	if batch && !batchesAllowed(version) {
		writeError(w, http.StatusBadRequest, nil, pipeline.CodeInvalidRequest,
			"Bad Request: JSON-RPC batches are only allowed in protocol revisions up to 2025-03-26 (this request is "+version+")")
		return "", false
	}
	return version, true
}

func firstID(msgs []*pipeline.Message) json.RawMessage {
	for _, m := range msgs {
		if m.ID != nil {
			return m.ID
		}
	}
	return nil
}

// initialize starts a session: it opens the upstream and forwards the
// request; the response carries our session id.
func (s *Server) initialize(w http.ResponseWriter, r *http.Request, m *pipeline.Message, info *RequestInfo) {
	if !m.IsRequest() {
		writeError(w, http.StatusBadRequest, nil, pipeline.CodeInvalidRequest, "Bad Request: initialize must be a request with an id")
		return
	}
	requested := m.ParamsProtocolVersion()
	sess := newSession(s.cfg.Store, s.userID(r), s.settings, requested)
	sess.clientIP = s.clientKey(r)
	sess.claim = s.cfg.Clients.Claims(r)
	if !s.startSession(w, r, sess, m.ID) {
		return
	}
	if s.cfg.Cluster != nil {
		w = s.sealOnAnswer(w, sess) // names the upstream's session too (clusterserve.go)
	} else {
		w.Header().Set("Mcp-Session-Id", sess.id)
	}
	info.SessionID = sess.id
	s.describe(w, r, info)
	s.dispatch(w, r, sess, []*pipeline.Message{m}, requested)
}

// startSession adds a new session to the store and opens its upstream. On
// failure it has answered the client (with id, the id of the request that
// started the session, if any) and the session is gone.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, sess *Session, id json.RawMessage) bool {
	sess.client = s.sessionClient(r, sess.user)
	sess.up = s.cfg.Upstream
	if err := s.cfg.Store.add(sess); err != nil {
		sess.cancel()
		switch {
		case errors.Is(err, errStoreClosed):
			writeError(w, http.StatusServiceUnavailable, id, pipeline.CodeInternalError, "Service Unavailable: "+err.Error())
		case errors.Is(err, errClientFull):
			writeRetryLater(w, http.StatusTooManyRequests, DefaultRetryAfter, id, "Too Many Requests: "+err.Error())
		default:
			writeRetryLater(w, http.StatusServiceUnavailable, DefaultRetryAfter, id, "Service Unavailable: "+err.Error())
		}
		return false
	}
	var atShare atomic.Bool
	conn, err := s.cfg.Upstream.Open(s.withReclaim(r.Context(), sess, &atShare), sess)
	if err != nil {
		sess.end("the upstream could not be opened")
		var busy *upstream.BusyError
		if errors.As(err, &busy) {
			s.cfg.Logger.Warn("no upstream capacity for a new session", zap.Error(err))
			msg := "Service Unavailable: every upstream MCP server process is in use by a busy session (max_processes); retry later"
			switch {
			case errors.Is(err, upstream.ErrReconfiguring):
				msg = "Service Unavailable: this endpoint is being reconfigured; retry"
			case errors.Is(err, upstream.ErrUnhealthy):
				msg = "Service Unavailable: " + upstream.ErrUnhealthy.Error()
			case atShare.Load():
				msg = "Service Unavailable: every upstream MCP server process is in use (max_processes) and this client holds its fair share of them (the bound divided among the clients holding sessions), none of them idle; end one (DELETE) or retry later"
			}
			writeRetryLater(w, http.StatusServiceUnavailable, int(max(busy.RetryAfter/time.Second, 1)), id, msg)
			return false
		}
		msg, data := publicFailure(s.cfg.Logger, s.cfg.VerboseErrors,
			"Bad Gateway: the upstream MCP server could not be started; the gateway's log has the cause under the correlation_id",
			"opening the upstream MCP server failed", err)
		writeFailure(w, http.StatusBadGateway, id, pipeline.CodeInternalError, msg, data)
		return false
	}
	if !sess.attachUpstream(conn) {
		conn.Close()
		writeError(w, http.StatusServiceUnavailable, id, pipeline.CodeInternalError, "Service Unavailable: the session ended while starting")
		return false
	}
	return true
}

// dispatch sends the client's messages through the pipeline to the
// upstream and answers: 202 when there are no requests, else the stream of
// their responses. A 2024-11-05 session's responses take its GET stream, so a
// 2024-11-05 POST is always answered 202.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, sess *Session, msgs []*pipeline.Message, version string) {
	var st *stream
	ex := s.requestExchange(r, sess, version)
	for _, m := range msgs {
		switch {
		case m.Method == "notifications/initialized" && m.IsNotification():
			sess.handshakeDone()
		case m.Method != "initialize":
			sess.used()
		}
		if m.IsRequest() && st == nil {
			var err error
			// Older revisions may get the answer as plain JSON, without
			// a stream: its index is published only if it becomes one.
			if st, err = sess.requestStream(primesStreams(version)); err != nil {
				writeError(w, http.StatusNotFound, m.ID, codeSessionNotFound, "Session not found: "+err.Error())
				return
			}
			st.expect() // held until every message is dispatched
		}
	}
	for _, m := range msgs {
		r := r // with the span of m, when traced
		if m.IsRequest() {
			tr := s.traceRequest(&r, m, sess, version) // tracing.go
			if err := sess.begin(m, st, w, ex.Claim, tr); err != nil {
				tr.End(nil)
				if len(msgs) == 1 {
					st.respond(nil) // release the hold
					sess.forgetStream(st)
					s.rejectCall(w, m, err)
					return
				}
				st.append(pipeline.NewError(m.ID, pipeline.CodeInvalidRequest, err.Error()))
				continue
			}
		}
		s.toServer(r, sess, ex, m, len(msgs) == 1)
	}
	if st == nil {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	st.respond(nil) // release the hold
	if sess.sse2024 {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	s.answer(w, r, sess, st, version)
}

// rejectCall answers a single request that could not even start.
func (s *Server) rejectCall(w http.ResponseWriter, m *pipeline.Message, err error) {
	switch {
	case errors.Is(err, errTooManyCalls):
		writeRetryLater(w, http.StatusTooManyRequests, DefaultRetryAfter, m.ID, "Too Many Requests: "+err.Error())
	case errors.Is(err, errSessionClosed):
		writeError(w, http.StatusNotFound, m.ID, codeSessionNotFound, "Session not found: "+err.Error())
	default:
		writeError(w, http.StatusBadRequest, m.ID, pipeline.CodeInvalidRequest, "Bad Request: "+err.Error())
	}
}
