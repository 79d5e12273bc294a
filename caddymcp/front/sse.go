package front

import (
	"bytes"
	"net/http"
	"strconv"
)

// sseWriter frames server-sent events on an HTTP response and flushes each
// event at once.
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

// event buffers one event. data may span lines; each gets its own "data:"
// field so the framing survives any JSON formatting.
func (sw *sseWriter) event(id string, data []byte) {
	if id != "" {
		sw.buf = append(sw.buf, "id: "...)
		sw.buf = append(sw.buf, id...)
		sw.buf = append(sw.buf, '\n')
	}
	if data == nil {
		// A priming event: an id and empty data.
		sw.buf = append(sw.buf, "data: \n\n"...)
		return
	}
	sw.named("message", data)
}

// named buffers an event with the given name and data; the caller writes
// an id line before it if the event has one.
func (sw *sseWriter) named(name string, data []byte) {
	sw.buf = append(sw.buf, "event: "...)
	sw.buf = append(sw.buf, name...)
	sw.buf = append(sw.buf, '\n')
	for {
		// SSE lines end at CRLF, LF or CR.
		i := bytes.IndexAny(data, "\r\n")
		line := data
		if i >= 0 {
			line = data[:i]
		}
		sw.buf = append(sw.buf, "data: "...)
		sw.buf = append(sw.buf, line...)
		sw.buf = append(sw.buf, '\n')
		if i < 0 {
			break
		}
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	sw.buf = append(sw.buf, '\n')
}

// handoff buffers the last event of a stream that the gateway ends while
// the stream lives on (a reload, an exit): a fresh id that resumes where the
// client is (handoffEventID), empty data, and a reconnection hint in
// milliseconds.
func (sw *sseWriter) handoff(id string, retryMs int64) {
	sw.buf = append(sw.buf, "id: "...)
	sw.buf = append(sw.buf, id...)
	sw.buf = append(sw.buf, "\nretry: "...)
	sw.buf = strconv.AppendInt(sw.buf, retryMs, 10)
	sw.buf = append(sw.buf, "\ndata: \n\n"...)
}

// comment buffers a comment line, used as keep-alive.
func (sw *sseWriter) comment(text string) {
	sw.buf = append(sw.buf, ": "...)
	sw.buf = append(sw.buf, text...)
	sw.buf = append(sw.buf, "\n\n"...)
}

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
