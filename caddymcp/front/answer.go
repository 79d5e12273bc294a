package front

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// primeHold is how long the answer to a 2025-11-25 POST may wait for the
// stream to finish before its headers and priming event go out on their own.
// Most calls finish sooner: their whole answer (priming event, response)
// then leaves in one write with a Content-Length instead of three writes of
// a chunked stream — fewer syscalls here and fewer wake-ups in the client.
// 100 ms covers the calls of a loaded machine (10 ms, the earlier hold, sent
// half of them chunked under the side-by-side bench's load), while a message
// before the response (progress, a server request) ends the hold at once,
// so it delays no message. The priming event only matters to a client whose
// connection drops before the first message; within the hold nothing has
// been sent yet, so such a drop costs the client no more than a connection
// lost before the headers.
const primeHold = 100 * time.Millisecond

// handoffRetry is the reconnection hint, in milliseconds, on a stream the
// gateway ends for a reload or an exit: soon enough that a client misses
// little, late enough that the new configuration is serving.
const handoffRetry = 500

// answer writes the response stream of a POST. Clients of 2025-11-25 and
// later get SSE with a priming event first, so even a request whose
// connection drops before its first event can be resumed (see primeHold).
// Older clients get plain JSON when the response is the only message, and
// SSE as soon as anything comes before it. A plain JSON answer that is the
// gateway's error for a failed HTTP upstream gets status 502 or 504.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, sess *Session, st *stream, version string) {
	sess.readers.Add(1)
	defer sess.readers.Add(-1)
	defer sess.touch()
	takenOver := st.attach()
	defer st.detach(takenOver)

	if primesStreams(version) {
		s.answerPrimed(w, r, sess, st, takenOver)
		return
	}
	var one [1]event // most answers are one event: read without allocating
	for {
		res := st.read(0, one[:0])
		if len(res.events) == 1 && res.done && res.events[0].msg.IsResponse() {
			msg := res.events[0].msg
			raw := msg.Raw
			h := w.Header()
			// Both values in one allocation, each header its own slice.
			v := make([]string, 2)
			v[0], v[1] = "application/json", strconv.Itoa(len(raw))
			h["Content-Type"], h["Content-Length"] = v[0:1:1], v[1:2:2]
			// The gateway's own answer for an upstream that failed carries
			// the status a reverse proxy would give (502 or 504).
			status := http.StatusOK
			if gw := upstream.GatewayStatus(msg); gw != 0 {
				status = gw
			}
			if msg.Error != nil && sess.isClosed() {
				// A failed initialize ended the session: naming it would
				// only earn the client a 404.
				h.Del("Mcp-Session-Id")
			}
			w.WriteHeader(status)
			if _, err := w.Write(raw); err == nil {
				st.markDelivered(res.events[0].seq)
				sess.forgetStream(st)
			}
			return
		}
		if len(res.events) > 0 || res.done || res.sse {
			sess.publishStream(st) // its event ids name it from now on
			sw := startSSE(w, http.StatusOK)
			sw.sealFor(sess, st, 0)
			s.tail(r, sess, st, 0, sw, takenOver, postStream)
			return
		}
		select {
		case <-res.wake:
		case <-takenOver:
			return
		case <-r.Context().Done():
			return
		case <-s.exit:
			// Nothing was sent yet, and this revision has no resume for
			// a plain answer: say why it will not come.
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, nil, pipeline.CodeInternalError,
				"Service Unavailable: the gateway is shutting down; the request may not have completed")
			return
		}
	}
}

// answerPrimed answers a POST of 2025-11-25 or later: in one piece when the
// stream finishes within primeHold, else as an SSE stream that starts with
// the priming event.
func (s *Server) answerPrimed(w http.ResponseWriter, r *http.Request, sess *Session, st *stream, takenOver <-chan struct{}) {
	// initialize waits for the server's answer, since a refusal ends the
	// session and must not name it (as the JSON path does); any other
	// call waits at most primeHold, timed from its first wait.
	holds := r.Header.Get("Mcp-Session-Id") != ""
	var holdC <-chan time.Time
	var one [1]event // most answers are one event: read without allocating
	for waiting := true; waiting; {
		res := st.read(0, one[:0])
		if res.done {
			s.logMissed(sess, st, res.missed)
			if sess.isClosed() {
				w.Header().Del("Mcp-Session-Id") // naming it would only earn a 404
			}
			var sw sseWriter // on the stack: writeWhole releases it here
			sw.init(w)
			sw.sealFor(sess, st, 0)
			sw.eventAt(st.index, 0, nil)
			var last uint64
			for _, ev := range res.events {
				sw.eventAt(st.index, ev.seq, ev.msg)
				last = ev.seq
			}
			if sw.writeWhole(http.StatusOK) == nil {
				st.markDelivered(last)
				sess.forgetStream(st)
			}
			return
		}
		if len(res.events) > 0 || res.sse {
			// Something comes before the answer (progress, a server
			// request) or a stage holds the call: stream from now on,
			// so the hold delays no message.
			break
		}
		if holds && holdC == nil {
			hold := holdTimer()
			defer releaseHoldTimer(hold)
			holdC = hold.C
		}
		select {
		case <-res.wake:
		case <-holdC:
			waiting = false
		case <-takenOver:
			return
		case <-r.Context().Done():
			return
		case <-s.exit:
			waiting = false // tail sends the handoff at once
		}
	}
	sw := startSSE(w, http.StatusOK)
	defer sw.release()
	sw.sealFor(sess, st, 0)
	sw.eventAt(st.index, 0, nil)
	if sw.flush() != nil {
		return
	}
	s.tail(r, sess, st, 0, sw, takenOver, postStream)
}

// holdTimers recycles answerPrimed's timers: most calls wait for their
// answer, and a timer per call was three allocations of the call's
// few dozen.
var holdTimers sync.Pool

// holdTimer returns a timer that fires after primeHold.
func holdTimer() *time.Timer {
	if t, ok := holdTimers.Get().(*time.Timer); ok {
		t.Reset(primeHold) // stopped when put back: nothing stale (Go 1.23 timers)
		return t
	}
	return time.NewTimer(primeHold)
}

// releaseHoldTimer stops t and keeps it for the next holdTimer.
func releaseHoldTimer(t *time.Timer) {
	t.Stop()
	holdTimers.Put(t)
}

// streamKind tells tail which events end a stream early.
type streamKind int

const (
	postStream       streamKind = iota // a POST's answer, or its resume: ends at exit
	standaloneStream                   // the 2025 GET stream: ends at a reload or an exit
	sse2024Stream                      // a 2024-11-05 session's stream: ends at exit, with its session
)

// tail copies st from cursor onto the client until the stream ends, the
// client goes away, another reader takes over, or the gateway ends the
// stream for a reload or an exit (see Server.Shutdown and Server.Exit).
func (s *Server) tail(r *http.Request, sess *Session, st *stream, cursor uint64, sw *sseWriter, takenOver <-chan struct{}, kind streamKind) {
	s.streamOpen(clientStreamOf(kind), 1)
	defer s.streamOpen(clientStreamOf(kind), -1)
	keepAlive := time.NewTicker(s.cfg.KeepAlive)
	defer keepAlive.Stop()
	var buf []event
	for {
		res := st.read(cursor, buf)
		s.logMissed(sess, st, res.missed)
		for _, ev := range res.events {
			sw.eventAt(st.index, ev.seq, ev.msg)
			cursor = ev.seq
		}
		buf = res.events[:0]
		if len(res.events) > 0 {
			send := sw.flush
			if res.done {
				// The last events: unflushed, they leave with the end of
				// the chunked body when the handler returns, in one write.
				send = sw.write
			}
			if send() != nil {
				return
			}
			st.markDelivered(cursor)
			keepAlive.Reset(s.cfg.KeepAlive)
		}
		if res.done {
			sess.forgetStream(st)
			return
		}
		select {
		case <-res.wake:
		case <-takenOver:
			return
		case <-r.Context().Done():
			return
		case <-keepAlive.C:
			sw.comment("keepalive")
			if sw.flush() != nil {
				return
			}
		case <-s.endOf(kind):
			if kind == sse2024Stream {
				return // it cannot resume: its session ends with it
			}
			// Hand the client to the configuration that replaced this one
			// (or, at exit, to whatever serves it next): it reconnects
			// after the hint and resumes from the buffer, and the fresh id
			// makes that resume count as progress.
			sw.handoffAt(st.index, cursor, handoffRetry)
			_ = sw.flush()
			return
		}
	}
}

// logMissed reports events that left the replay buffer before a reader
// wrote them.
func (s *Server) logMissed(sess *Session, st *stream, missed uint64) {
	if missed > 0 {
		s.cfg.Logger.Warn("a client fell behind its stream's replay buffer; events were lost",
			zap.String("session", sess.id), zap.Uint64("stream", st.index), zap.Uint64("missed", missed))
	}
}

// endOf returns the channel whose close ends a stream of the kind early:
// the standalone GET stream ends at a reload (and at exit, which implies
// one); the other streams only at exit.
func (s *Server) endOf(kind streamKind) <-chan struct{} {
	if kind == standaloneStream {
		return s.shutdown
	}
	return s.exit
}
