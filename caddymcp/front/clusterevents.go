package front

import (
	"crypto/rand"
	"encoding/binary"
	"net/http"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/seal"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// Sealed event ids. In a cluster the SSE event ids a session's streams
// carry are sealed (seal.Event), bound to the endpoint and the user as the
// session id is, and carry, beside the stream index and event number of
// the instance's copy of the session that minted them (named by a random
// epoch), the upstream's own event id as of that event. A resume that
// lands on the copy that minted the id replays from its buffer, as without
// a cluster; one that lands on another instance (the first stopped, the
// balancer chose otherwise) asks the upstream for its standalone stream
// after that upstream event id, so that what the server sent meanwhile is
// not lost; a POST's stream, whose ids also carry the request it answers,
// goes on with that request there (clusterresume.go). What the upstream
// gave no event id to lived only in the minting instance's buffer. Without
// a cluster nothing here runs: ids are <stream>_<seq> as always.

// eventSealer seals the event ids of one client stream.
type eventSealer struct {
	ring  *seal.Ring
	bind  seal.Binding
	epoch uint64
	get   bool              // the standalone stream: placed by the upstream's GET stream ids only
	up    string            // the upstream's event id as of the last event written
	req   seal.EventRequest // the request a POST stream answers (zero: none, or several)
}

// sealFor makes sw seal its event ids, in a cluster, for stream st of sess
// read from cursor on. A 2024-11-05 session's stream cannot resume.
func (sw *sseWriter) sealFor(sess *Session, st *stream, cursor uint64) {
	c := sess.settings.Load().cluster
	if c == nil || sess.sse2024 {
		return
	}
	get := st.index == getStreamIndex
	sw.seal = &eventSealer{ring: c.Ring, bind: seal.Binding{Endpoint: c.Endpoint, User: sess.user},
		epoch: sess.eventEpoch(), get: get, up: st.upstreamIDAt(cursor, get)}
	if !get {
		sw.seal.req = st.askOf()
	}
}

// resumedFrom sets the upstream's place on a stream that resumes another
// instance's: the one the client's Last-Event-ID carried.
func (sw *sseWriter) resumedFrom(upstreamID string) {
	if upstreamID != "" && sw.seal != nil {
		sw.seal.up = upstreamID
	}
}

// id seals the id of event seq of stream, which carries m (nil: a priming
// or handoff event, at the place of the last one).
func (e *eventSealer) id(stream, seq uint64, m *pipeline.Message) string {
	if m != nil && m.EventID != "" && m.OnGetStream == e.get {
		e.up = m.EventID
	}
	return e.ring.SealEvent(e.bind, seal.Event{Epoch: e.epoch, Stream: stream, Seq: seq, Upstream: e.up, Request: e.req})
}

// upstreamIDAt is the upstream's event id as of event seq of the stream:
// that of the latest event up to seq the upstream's stream of the same
// kind gave one, while the buffer holds it ("" if none).
func (s *stream) upstreamIDAt(seq uint64, get bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.events) - 1; i >= 0; i-- {
		ev := s.events[i]
		if ev.seq <= seq && ev.msg.EventID != "" && ev.msg.OnGetStream == get {
			return ev.msg.EventID
		}
	}
	return ""
}

// eventEpoch names this instance's copy of the session in the event ids it
// seals: random, made at the first.
func (s *Session) eventEpoch() uint64 {
	if e := s.epoch.Load(); e != 0 {
		return e
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	s.epoch.CompareAndSwap(0, binary.BigEndian.Uint64(b[:])|1)
	return s.epoch.Load()
}

// placeSealedEvent opens a GET's sealed Last-Event-ID for sess: an id this
// copy of the session minted resumes from its buffer (index, cursor); one
// of another instance resumes the standalone stream from now on, with the
// upstream's stream after the upstream event id it carries (from), or goes
// on with the request a POST's stream answered there (resumeCall). An id
// that does not open is malformed (400), as an id of no known form is
// without a cluster. When ok is false it has answered the client.
func (s *Server) placeSealedEvent(w http.ResponseWriter, r *http.Request, sess *Session) (index, cursor uint64, resume bool, from string, ok bool) {
	last := r.Header.Get("Last-Event-Id")
	c := s.cfg.Cluster
	ev, err := c.Ring.OpenEvent(last, seal.Binding{Endpoint: c.Endpoint, User: sess.user})
	switch {
	case err != nil:
		writeError(w, http.StatusBadRequest, nil, pipeline.CodeInvalidRequest, "Bad Request: malformed Last-Event-ID "+quoteForMessage(last))
		return 0, 0, false, "", false
	case ev.Epoch == sess.eventEpoch():
		return ev.Stream, ev.Seq, true, "", true
	case ev.Stream != getStreamIndex:
		st := s.resumeCall(w, r, sess, ev)
		if st == nil {
			// No request to go on with (a batch's stream): its events
			// lived on the other instance.
			sw := startSSE(w, http.StatusOK)
			_ = sw.flush()
			sw.release()
			return 0, 0, false, "", false
		}
		return st.index, 0, true, ev.Upstream, true
	}
	return getStreamIndex, 0, false, ev.Upstream, true
}

// resumeUpstreamGet makes the upstream's standalone stream, if it opens
// now, pick up after its event id from ("" : from now).
func resumeUpstreamGet(l upstream.Listener, from string) {
	if from == "" {
		return
	}
	if r, ok := l.(upstream.GetResumer); ok {
		r.ResumeGet(from)
	}
}

// unlisten tells l its client's GET stream ended. In a cluster the
// upstream's standalone stream is let go of at once rather than after its
// grace period: the client's next GET (a reconnect, through a balancer)
// may land on another instance, which can open that stream only once this
// one closed it (the server keeps one per session), and meanwhile the
// server's messages on it would reach this instance, where no client
// listens. A client that comes back here resumes the upstream's stream
// from its event id, as another instance would.
func (s *Server) unlisten(l upstream.Listener) {
	l.Listen(false)
	if s.cfg.Cluster == nil {
		return
	}
	if r, ok := l.(upstream.GetReleaser); ok {
		r.ReleaseGet()
	}
}
