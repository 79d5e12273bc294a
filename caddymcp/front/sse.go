package front

import (
	"net/http"
	"strconv"

	"github.com/caddy-mcp/caddy-mcp/sse"
)

// sseWriter frames server-sent events on an HTTP response and flushes each
// event at once. The framing is package sse's; what is the front's own is
// the HTTP side: headers, whole bodies, and flushing.
type sseWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf []byte
}

// startSSE writes the headers of an event stream. They go out with the first
// flush: callers flush the stream's first bytes (a priming event, a comment)
// right away, so headers and first event share one write.
func startSSE(w http.ResponseWriter, status int) *sseWriter {
	sw := newSSEWriter(w)
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	return sw
}

// newSSEWriter sets the headers of an event stream without sending them:
// the caller either starts the stream (startSSE) or, knowing every event,
// sends it whole (writeWhole).
func newSSEWriter(w http.ResponseWriter) *sseWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	return &sseWriter{w: w, rc: http.NewResponseController(w)}
}

// writeWhole sends the headers and every buffered event as a complete
// body with a Content-Length, in one write.
func (sw *sseWriter) writeWhole(status int) error {
	sw.w.Header().Set("Content-Length", strconv.Itoa(len(sw.buf)))
	sw.w.WriteHeader(status)
	return sw.flush()
}

// flushHeaders sends the headers now, before any event.
func (sw *sseWriter) flushHeaders() error { return sw.rc.Flush() }

// event buffers one event (sse.AppendEvent): a message, or with nil data a
// priming event.
func (sw *sseWriter) event(id string, data []byte) { sw.buf = sse.AppendEvent(sw.buf, id, data) }

// named buffers an event with the given name and data; the caller writes
// an id line before it if the event has one.
func (sw *sseWriter) named(name string, data []byte) { sw.buf = sse.AppendNamed(sw.buf, name, data) }

// handoff buffers the last event of a stream that the gateway ends while
// the stream lives on (a reload, an exit): a fresh id that resumes where the
// client is (handoffEventID), empty data, and a reconnection hint in
// milliseconds.
func (sw *sseWriter) handoff(id string, retryMs int64) { sw.buf = sse.AppendRetry(sw.buf, id, retryMs) }

// comment buffers a comment line, used as keep-alive.
func (sw *sseWriter) comment(text string) { sw.buf = sse.AppendComment(sw.buf, text) }

// flush writes what is buffered and flushes the connection.
func (sw *sseWriter) flush() error {
	if len(sw.buf) == 0 {
		return nil
	}
	_, err := sw.w.Write(sw.buf)
	sw.buf = sw.buf[:0]
	if err != nil {
		return err
	}
	return sw.rc.Flush()
}
