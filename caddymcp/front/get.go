package front

import (
	"net/http"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// serveGet opens the standalone stream, or resumes a stream after
// Last-Event-ID; a GET without a session opens a 2024-11-05 HTTP+SSE
// session.
func (s *Server) serveGet(w http.ResponseWriter, r *http.Request) {
	if !accepts(r, "text/event-stream") {
		writeError(w, http.StatusNotAcceptable, nil, pipeline.CodeInvalidRequest,
			"Not Acceptable: a GET must accept text/event-stream")
		return
	}
	if v := r.Header.Get("Mcp-Protocol-Version"); isStatelessVersion(v) {
		writeStatelessMethodNotAllowed(w)
		return
	} else if v != "" && !supportedSessionVersion(v) {
		writeUnsupportedVersion(w, nil, v)
		return
	}
	id := r.Header.Get("Mcp-Session-Id")
	if id == "" {
		s.serveSSE2024Get(w, r)
		return
	}
	index, cursor, resume, sealed, ok := resumePoint(w, r, s.cfg.Cluster != nil)
	if !ok {
		return
	}
	sess := s.lookupSession(w, r, id, false)
	if sess == nil {
		return
	}
	sess.used()
	var from string // the upstream's event id a sealed id of another instance resumes after
	if sealed {
		if index, cursor, resume, from, ok = s.placeSealedEvent(w, r, sess); !ok {
			return
		}
	}
	st, problem := sess.resumeTarget(index, cursor)
	if problem != "" && s.cfg.Cluster != nil {
		st, resume, problem = sess.resumeElsewhere(index) // an id another instance gave (clusterserve.go)
	}
	if problem != "" {
		writeError(w, http.StatusBadRequest, nil, pipeline.CodeInvalidRequest,
			"Bad Request: Last-Event-ID "+quoteForMessage(r.Header.Get("Last-Event-Id"))+" "+problem+
				"; resume with the id of an event received on this session, or open the stream without Last-Event-ID")
		return
	}
	if st == nil {
		// The stream is finished and no longer retained: nothing of it is
		// left to replay. An empty, ended stream says so without a 404,
		// which would make the client drop a live session.
		sw := startSSE(w, http.StatusOK)
		_ = sw.flush()
		return
	}
	if !resume {
		cursor = st.deliveredSeq()
	}
	sess.readers.Add(1)
	defer sess.readers.Add(-1)
	defer sess.touch()
	takenOver := st.attach()
	defer st.detach(takenOver)
	if index == getStreamIndex {
		// An upstream that holds a stream of its own for unrelated
		// messages (HTTP) holds it only while a client listens.
		if l, ok := sess.upstream().(upstream.Listener); ok {
			resumeUpstreamGet(l, from)
			l.Listen(true)
			defer s.unlisten(l)
		}
	}
	sw, ok := startGetStream(w, sess, st, cursor, index == getStreamIndex && !resume, from)
	if !ok {
		return
	}
	kind := postStream
	if index == getStreamIndex {
		kind = standaloneStream
	}
	s.tail(r, sess, st, cursor, sw, takenOver, kind)
}

// resumePoint is where a GET's stream starts: the stream index and cursor
// its Last-Event-ID names (resume), else the standalone stream from now;
// in a cluster, sealed for an id of no plain form, which the session opens
// (placeSealedEvent). When ok is false it has answered the client.
func resumePoint(w http.ResponseWriter, r *http.Request, cluster bool) (index, cursor uint64, resume, sealed, ok bool) {
	last := r.Header.Get("Last-Event-Id")
	if last == "" {
		return getStreamIndex, 0, false, false, true
	}
	index, cursor, err := parseEventID(last)
	if err != nil && cluster {
		return 0, 0, true, true, true
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, nil, pipeline.CodeInvalidRequest, "Bad Request: malformed Last-Event-ID "+quoteForMessage(last))
		return 0, 0, false, false, false
	}
	return index, cursor, true, false, true
}

// startGetStream sends a GET stream's headers. A newly opened standalone
// stream (fresh) gets something right after them: some HTTP/2
// intermediaries hold a stream's headers until the first body bytes. From
// 2025-11-25 on it is a priming event, as on POST streams: an id at the
// stream's cursor, so a client whose connection drops before the first
// message resumes from here, and a resume after any end of this stream has
// an id to name. ok is false when the client is gone.
func startGetStream(w http.ResponseWriter, sess *Session, st *stream, cursor uint64, fresh bool, from string) (sw *sseWriter, ok bool) {
	sw = startSSE(w, http.StatusOK)
	sw.sealFor(sess, st, cursor)
	sw.resumedFrom(from)
	if !fresh {
		return sw, sw.flushHeaders() == nil
	}
	if primesStreams(sess.Version()) {
		sw.eventAt(st.index, cursor, nil)
	} else {
		sw.comment("stream open")
	}
	return sw, sw.flush() == nil
}
