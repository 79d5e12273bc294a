package front

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/sse"
)

// sseWriter frames server-sent events on an HTTP response and flushes each
// event at once. The framing is package sse's; what is the front's own is
// the HTTP side: headers, whole bodies, and flushing.
type sseWriter struct {
	w      http.ResponseWriter
	rc     http.ResponseController
	buf    []byte
	pooled *[]byte      // where buf came from in sseBufs; nil once released
	seal   *eventSealer // seals the event ids, in a cluster (clusterevents.go); nil: plain ids
}

// sseBufs recycles the event buffers of SSE answers, so that framing an
// answer does not grow a new buffer each call.
var sseBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledSSEBuf is the largest buffer kept for reuse: one that framed a
// huge answer goes to the garbage collector instead of pinning its memory.
const maxPooledSSEBuf = 64 << 10

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
	sw := new(sseWriter)
	sw.init(w)
	return sw
}

// init is newSSEWriter on a writer the caller holds: a whole answer
// (writeWhole) framed by a writer on the caller's stack allocates no
// writer of its own.
func (sw *sseWriter) init(w http.ResponseWriter) {
	// The three values share one allocation; each header gets its own
	// slice of it (capacity 1), as Header.Set would give it.
	v := make([]string, 3)
	v[0], v[1], v[2] = "text/event-stream", "no-cache", "no"
	h := w.Header()
	h["Content-Type"], h["Cache-Control"], h["X-Accel-Buffering"] = v[0:1:1], v[1:2:2], v[2:3:3]
	p := sseBufs.Get().(*[]byte)
	*sw = sseWriter{w: w, rc: *http.NewResponseController(w), buf: (*p)[:0], pooled: p}
}

// writeWhole sends the headers and every buffered event as a complete
// body with a Content-Length, and releases the writer. It does not flush:
// the server sends the response, in one write, as the handler returns,
// as it does a plain JSON answer (a flush here went through every wrapper
// of the ResponseWriter, Caddy's write deadline included, for the same
// write).
func (sw *sseWriter) writeWhole(status int) error {
	sw.w.Header().Set("Content-Length", strconv.Itoa(len(sw.buf)))
	sw.w.WriteHeader(status)
	err := sw.write()
	sw.release()
	return err
}

// release returns the buffer to sseBufs; the writer frames no more events.
// The ResponseWriter copied what was written, so nothing else holds it.
func (sw *sseWriter) release() {
	if sw.pooled == nil {
		return
	}
	if cap(sw.buf) <= maxPooledSSEBuf {
		*sw.pooled = sw.buf[:0]
		sseBufs.Put(sw.pooled)
	}
	sw.buf, sw.pooled = nil, nil
}

// flushHeaders sends the headers now, before any event.
func (sw *sseWriter) flushHeaders() error { return sw.rc.Flush() }

// event buffers one event (sse.AppendEvent): a message, or with nil data a
// priming event.
func (sw *sseWriter) event(id string, data []byte) { sw.buf = sse.AppendEvent(sw.buf, id, data) }

// eventAt is event with the id eventID(stream, seq), written in place
// rather than formatted into a string first, of m (nil: a priming event).
func (sw *sseWriter) eventAt(stream, seq uint64, m *pipeline.Message) {
	var data []byte
	if m != nil {
		data = m.Raw
	}
	if sw.seal != nil {
		sw.buf = sse.AppendEvent(sw.buf, sw.seal.id(stream, seq, m), data)
		return
	}
	sw.buf = append(sw.buf, "id: "...)
	sw.buf = appendEventID(sw.buf, stream, seq)
	sw.buf = append(sw.buf, '\n')
	sw.buf = sse.AppendEvent(sw.buf, "", data)
}

// named buffers an event with the given name and data; the caller writes
// an id line before it if the event has one.
func (sw *sseWriter) named(name string, data []byte) { sw.buf = sse.AppendNamed(sw.buf, name, data) }

// handoff buffers the last event of a stream that the gateway ends while
// the stream lives on (a reload, an exit): a fresh id that resumes where the
// client is (handoffEventID), empty data, and a reconnection hint in
// milliseconds.
func (sw *sseWriter) handoff(id string, retryMs int64) { sw.buf = sse.AppendRetry(sw.buf, id, retryMs) }

// handoffAt is handoff with the id that resumes stream at seq: sealed in a
// cluster (every sealed id is new), else handoffEventID's.
func (sw *sseWriter) handoffAt(stream, seq uint64, retryMs int64) {
	if sw.seal != nil {
		sw.handoff(sw.seal.id(stream, seq, nil), retryMs)
		return
	}
	sw.handoff(handoffEventID(stream, seq), retryMs)
}

// comment buffers a comment line, used as keep-alive.
func (sw *sseWriter) comment(text string) { sw.buf = sse.AppendComment(sw.buf, text) }

// flush writes what is buffered and flushes the connection.
func (sw *sseWriter) flush() error {
	if len(sw.buf) == 0 {
		return nil
	}
	if err := sw.write(); err != nil {
		return err
	}
	return sw.rc.Flush()
}

// write hands what is buffered to the ResponseWriter without flushing it.
func (sw *sseWriter) write() error {
	_, err := sw.w.Write(sw.buf)
	sw.buf = sw.buf[:0]
	return err
}
