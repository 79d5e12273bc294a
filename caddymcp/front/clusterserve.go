package front

import (
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/seal"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// Any instance serves any session of an HTTP upstream, or of a federation
// of them. The id a client of a cluster holds is sealed once the upstream
// answered initialize, so that it carries the upstream's own session id
// (and, behind a group, the member's name; in a federation, one per
// server) with the negotiated revision; the Store finds the session
// by it as by the session's own id. An instance that does not hold the
// session opens the id and joins the upstream session (rejoin) with no
// handshake; the client does not notice which instance it reached.
//
// An instance lets go of a session without ending it upstream when it
// shuts down, or stops holding the session (idle, evicted): the session may
// be in use through another instance, and a rolling restart must not end
// every session. What ends it everywhere is the client's DELETE, the
// operator's End, or the upstream ending it; the upstream's session then
// refuses every instance's requests (404).

// sealOnAnswer returns w with the session's id set as its header when the
// answer to initialize starts, after the upstream answered it.
func (s *Server) sealOnAnswer(w http.ResponseWriter, sess *Session) http.ResponseWriter {
	return &sealedIDWriter{ResponseWriter: w, sess: sess, cluster: s.cfg.Cluster}
}

// sealedIDWriter sets Mcp-Session-Id on the answer to initialize at its
// first write. answer.go writes nothing before the upstream's answer (or a
// message the upstream sent after its answer's headers, which carry its
// session id), so the id seals the upstream's session.
type sealedIDWriter struct {
	http.ResponseWriter
	sess    *Session
	cluster *Cluster
	done    bool
}

func (w *sealedIDWriter) WriteHeader(status int) {
	w.setID()
	w.ResponseWriter.WriteHeader(status)
}

func (w *sealedIDWriter) Write(b []byte) (int, error) {
	w.setID()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes).
func (w *sealedIDWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush is for a caller that asserts http.Flusher rather than using a
// ResponseController.
func (w *sealedIDWriter) Flush() {
	w.setID()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *sealedIDWriter) setID() {
	if w.done {
		return
	}
	w.done = true
	if w.sess.isClosed() {
		return // a refused initialize: naming the session would earn a 404
	}
	w.Header().Set("Mcp-Session-Id", w.cluster.sealID(w.sess))
}

// sealID returns the id the client of sess is to hold, made once: sealed
// with the upstream's session when the upstream can be joined (and then
// indexed by the store), else the session's own id. It is made as the
// upstream's answer to initialize arrives (deliverOn), so that the call
// log names the initialize by it too, or at the latest when the answer is
// written.
func (c *Cluster) sealID(sess *Session) string {
	if id := sess.clientID.Load(); id != nil {
		return *id
	}
	ups, upVersion, ok := sealedUpstreams(sess.upstream())
	if !ok || sess.sse2024 {
		// Nothing to join, or a 2024-11-05 session, whose id its client
		// already holds: the session's own id, for good.
		if sess.clientID.CompareAndSwap(nil, &sess.id) {
			return sess.id
		}
		return *sess.clientID.Load()
	}
	version := sess.Version()
	if upVersion != "" {
		version = upVersion
	}
	bind := seal.Binding{Endpoint: c.Endpoint, User: sess.user}
	id, err := c.Ring.SealSession(bind, seal.Session{
		Revision:  version,
		Issued:    sess.created,
		Upstreams: ups,
	})
	if err != nil {
		id = sess.id
	}
	sess.ring.Store(c.Ring)
	return sess.store.index(sess, id)
}

// stillOpens tells whether the id sess's client holds opens with this
// configuration's keys. A session this instance holds is found by its id
// without opening it, so after a reload that drops the key that sealed it
// (the last step of a rotation) it is opened once more, as another
// instance would open it: an id no instance opens any more is not served
// here either. The ring it last opened with is kept, which makes this one
// open per session and reload, not one per request. A session begun
// before a reload added the cluster has an id of its own, sealed with no
// key: it goes on here, as it did.
func (c *Cluster) stillOpens(sess *Session) bool {
	if r := sess.ring.Load(); r == c.Ring || r == nil {
		return true
	}
	if _, ok := c.openSessionID(sess.heldID(), sess.user); !ok {
		return false
	}
	sess.ring.Store(c.Ring)
	return true
}

// index makes id the one s's client holds and finds s by it, unless s
// has one already or has ended; it returns the id s's client holds.
func (st *Store) index(s *Session, id string) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if cur := s.clientID.Load(); cur != nil {
		return *cur
	}
	if st.sessions[s.id] != s {
		return s.id
	}
	if st.sealed == nil {
		st.sealed = make(map[string]*Session)
	}
	s.clientID.Store(&id)
	st.sealed[id] = s
	return id
}

// heldID returns the id the session's client holds: the sealed one once
// made, else the session's own. The admin API, the console and the calls
// log name a session by it, so that every instance names it alike.
func (s *Session) heldID() string {
	if id := s.clientID.Load(); id != nil {
		return *id
	}
	return s.id
}

// rejoin rebuilds the session a sealed id names, which another instance
// began: it returns nil (and the caller answers 404) when the id does not
// open for this endpoint and the request's user, names no upstream session,
// or the upstream cannot be joined.
func (s *Server) rejoin(r *http.Request, id string) *Session {
	c := s.cfg.Cluster
	user := s.userID(r)
	sealed, ok := c.openSessionID(id, user)
	if !ok || !s.canJoin(sealed) {
		return nil
	}
	done, wait := s.cfg.Store.joinTurn(id)
	if wait != nil {
		// Another request rebuilds it: its outcome is this one's.
		select {
		case <-wait:
			return s.cfg.Store.get(id)
		case <-r.Context().Done():
			return nil
		}
	}
	defer done()
	if sess := s.cfg.Store.get(id); sess != nil {
		return sess // rebuilt between the caller's look and the turn
	}
	sess := newSession(s.cfg.Store, user, s.settings, sealed.Revision)
	sess.id = id
	sess.created = time.Now()
	sess.clientIP = s.clientKey(r)
	sess.claim = s.cfg.Clients.Claims(r)
	sess.client = s.sessionClient(r, user)
	sess.up = s.cfg.Upstream
	sess.ring.Store(c.Ring)
	// Joined before it is stored: a request that finds the session
	// finds it whole.
	conn, err := s.attachSealed(r.Context(), sess, sealed)
	if err != nil {
		s.cfg.Logger.Debug("joining a session another instance began failed", zap.Error(err))
		sess.end("its upstream session could not be joined")
		return nil
	}
	sess.attachUpstream(conn)
	sess.handshakeDone() // the client did so on the instance that began it
	if err := s.cfg.Store.add(sess); err != nil {
		// The upstream session lives on (closeUpstream); the client starts
		// over, as for a lost session.
		sess.end("no room for it on this instance: " + err.Error())
		return nil
	}
	return sess
}

// joinTurn gives the rebuild of session id to one request at a time, with
// no lock held while it joins the upstream: the first caller gets done, to
// call once the session is in the store (or not to be), the others the
// channel done closes.
func (st *Store) joinTurn(id string) (done func(), wait <-chan struct{}) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if ch, ok := st.joining[id]; ok {
		return nil, ch
	}
	if st.joining == nil {
		st.joining = make(map[string]chan struct{})
	}
	ch := make(chan struct{})
	st.joining[id] = ch
	return func() {
		st.mu.Lock()
		delete(st.joining, id)
		st.mu.Unlock()
		close(ch)
	}, nil
}

// closeUpstream closes the session's upstream connection as its end asks:
// in a cluster the upstream session ends only when the client or the
// operator ended it (see the top of this file).
func (s *Session) closeUpstream(conn upstream.Conn) {
	if s.settings.Load().cluster == nil || s.deleted.Load() {
		conn.Close()
		return
	}
	closeDetached(conn)
}

// closeDetached closes conn leaving its server session alive, when it can.
func closeDetached(conn upstream.Conn) {
	if d, ok := conn.(upstream.Detacher); ok {
		d.Detach()
		return
	}
	conn.Close()
}

// resumeElsewhere serves a Last-Event-ID this instance cannot place, which
// in a cluster is most often one another instance gave (it stopped, or the
// balancer chose otherwise): the standalone stream starts afresh from now,
// and another stream, whose events only that instance held, is answered as
// one already finished. The events the client missed meanwhile are lost.
func (s *Session) resumeElsewhere(index uint64) (st *stream, resume bool, problem string) {
	if index != getStreamIndex {
		return nil, false, ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streams[getStreamIndex], false, ""
}
