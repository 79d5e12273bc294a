package front

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// retainedStreams is how many finished POST streams a session keeps for
// clients that come back with Last-Event-ID.
const retainedStreams = 16

// getStreamIndex is the index of the standalone GET stream; POST streams
// count up from 1.
const getStreamIndex = 0

// unpublishedStream marks the key of a POST stream whose index no event id
// has carried yet: one that may still be answered as plain JSON. It gets
// the next index when its first event id goes out (publishStream); one
// answered as JSON never does, so no index the client can name was a
// request answered without a stream, and a Last-Event-ID naming one is
// refused like any other id the gateway never sent. (The keys, with the
// top bit set, are above every index a session reaches.)
const unpublishedStream = uint64(1) << 63

// sessionSettings are the per-configuration settings a session follows. A
// reload that keeps the session hands it the new settings on its next
// request.
type sessionSettings struct {
	chain          *pipeline.Chain
	requestTimeout time.Duration
	replay         replayLimits
	maxInFlight    int
	logger         *zap.Logger
	verboseErrors  bool
	observer       Observer
	heldProgress   time.Duration // Config.HeldProgressInterval
}

// call is a client request waiting for the server's response.
type call struct {
	id     json.RawMessage
	stream *stream
	token  string // progress token key, "" if none
	method string
	target string              // what the request names (pipeline.Message.Target)
	post   http.ResponseWriter // of the POST that carried the request, for Observer.OnAnswer
	params json.RawMessage     // the request's params as the client sent them, for Observer.OnAnswer
	start  time.Time           // when it began, for Observer.OnAnswer (zero without it)
	timer  *time.Timer
	unhold context.CancelFunc               // ends a stage's hold on the request (stages.go), nil if not held
	claim  func(name string) (string, bool) // the claims of the POST that asked, for the stages on its response
}

// Session is one client session of the 2025 revisions (or of the
// 2024-11-05 HTTP+SSE transport): our id, the upstream connection it owns,
// and the streams its messages travel on.
type Session struct {
	id      string
	user    string
	client  string            // the per-client bound's key: the user, else the client's address
	up      upstream.Upstream // the upstream the session was opened on
	store   *Store
	sse2024 bool // 2024-11-05 HTTP+SSE: every server message takes the GET stream (sse2024.go)
	created time.Time

	clientIP   string                           // of the request that started the session, for stages
	claim      func(name string) (string, bool) // the user's claims, for stages (Clients.Claims)
	pipeOnce   sync.Once                        // starts pipe
	pipe       *sessionPipeline                 // the outbound worker (stages.go), nil without stages
	shifted    map[string]*progressShift        // progress tokens of held requests (heldprogress.go); guarded by mu
	shiftCount atomic.Int32                     // len(shifted), read without the lock

	settings   atomic.Pointer[sessionSettings]
	lastActive atomic.Int64 // unix nanoseconds
	readers    atomic.Int32 // open HTTP streams; a listened-to session is not idle

	// What eviction needs to know without the session's lock (fairshare.go).
	handshook   atomic.Bool  // the client sent notifications/initialized
	usedEarly   atomic.Bool  // the client sent another request before that
	sparedUntil atomic.Int64 // unix nanoseconds; no eviction takes the session before (0: none)

	ctx    context.Context // ends when the session ends
	cancel context.CancelFunc

	mu          sync.Mutex
	closed      bool
	conn        upstream.Conn // set once, right after the upstream opened
	version     string
	inflight    map[string]*call
	tokens      map[string]*stream
	streams     map[uint64]*stream
	order       []uint64 // POST stream indexes, oldest first
	nextStream  uint64
	unpublished uint64              // counts the keys of unpublished streams
	endData     *pipeline.ErrorData // data of the errors answering calls cut short, when the end has a log line
}

func newSession(store *Store, user string, settings *sessionSettings, version string) *Session {
	ctx, cancelCause := context.WithCancelCause(context.Background())
	// The cause tells a stage whose wait ends with the session that the
	// session ended (pipeline.CancelledEnd), not the request.
	cancel := func() { cancelCause(pipeline.ErrSessionEnded) }
	s := &Session{
		id:         newSessionID(),
		user:       user,
		created:    time.Now(),
		store:      store,
		ctx:        ctx,
		cancel:     cancel,
		version:    version,
		inflight:   make(map[string]*call),
		tokens:     make(map[string]*stream),
		streams:    make(map[uint64]*stream, 2),
		nextStream: 1,
	}
	s.settings.Store(settings)
	s.streams[getStreamIndex] = store.budget.newStream(getStreamIndex, settings.replay)
	s.touch()
	return s
}

// ID returns the client-facing session id.
func (s *Session) ID() string { return s.id }

func (s *Session) touch() { s.lastActive.Store(time.Now().UnixNano()) }

// Version returns the negotiated protocol revision.
func (s *Session) Version() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

func (s *Session) setVersion(v string) {
	s.mu.Lock()
	s.version = v
	s.mu.Unlock()
}

// newPostStream creates the stream that answers one POST, and forgets the
// oldest finished streams beyond the retention bound. Its index is
// published at once: the answer will be a stream whatever comes.
func (s *Session) newPostStream() (*stream, error) { return s.addPostStream(true) }

// addPostStream is newPostStream; unless published, the stream is kept
// under an unpublished key until publishStream.
func (s *Session) addPostStream(published bool) (*stream, error) {
	st := s.store.budget.newStream(0, s.settings.Load().replay)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errSessionClosed
	}
	if published {
		st.index = s.nextStream
		s.nextStream++
	} else {
		st.index = unpublishedStream | s.unpublished
		s.unpublished++
	}
	s.streams[st.index] = st
	s.order = append(s.order, st.index)
	s.pruneLocked()
	return st, nil
}

func (s *Session) pruneLocked() {
	// Newest first, count the finished streams; beyond the bound they go,
	// and their place in order is marked with getStreamIndex, which no POST
	// stream has. (Filtering into order[:0] while walking it backwards
	// would overwrite entries not yet read.)
	finished := 0
	for i := len(s.order) - 1; i >= 0; i-- {
		idx := s.order[i]
		st := s.streams[idx]
		if st == nil {
			s.order[i] = getStreamIndex
			continue
		}
		if st.isClosed() {
			finished++
			if finished > retainedStreams {
				delete(s.streams, idx)
				st.release()
				s.order[i] = getStreamIndex
			}
		}
	}
	s.order = slices.DeleteFunc(s.order, func(idx uint64) bool { return idx == getStreamIndex })
}

// publishStream gives an unpublished stream the next index, before its
// first event id goes out. Only the goroutine answering the POST calls it,
// before any other can find the stream under an index.
func (s *Session) publishStream(st *stream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := st.index
	if key&unpublishedStream == 0 {
		return
	}
	st.index = s.nextStream
	s.nextStream++
	if s.streams[key] == st {
		delete(s.streams, key)
		s.streams[st.index] = st
	}
	if i := slices.Index(s.order, key); i >= 0 {
		s.order[i] = st.index
	}
}

// stream returns the stream with the given index, or nil.
func (s *Session) stream(index uint64) *stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streams[index]
}

// forgetStream drops a finished POST stream whose events all reached a
// client.
func (s *Session) forgetStream(st *stream) {
	if st.index == getStreamIndex {
		return
	}
	s.mu.Lock()
	delete(s.streams, st.index)
	s.mu.Unlock()
	st.release()
}

var (
	errSessionClosed = errors.New("session ended")
	errDuplicateID   = errors.New("a request with this id is already in flight in this session")
	errTooManyCalls  = errors.New("too many requests in flight in this session")
)

// begin registers request m as waiting for a response on st.
// claim is the asking POST's claims (Exchange.Claim): the response's
// stages judge it with the token that asked, not the session's first.
func (s *Session) begin(m *pipeline.Message, st *stream, post http.ResponseWriter, claim func(string) (string, bool)) error {
	set := s.settings.Load()
	key := m.IDKey()
	var token string
	if t := m.ProgressToken(); t != nil {
		token = string(t)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return errSessionClosed
	case s.inflight[key] != nil:
		return errDuplicateID
	case set.maxInFlight > 0 && len(s.inflight) >= set.maxInFlight:
		return errTooManyCalls
	}
	c := &call{id: m.ID, stream: st, token: token, method: m.Method, post: post, claim: claim}
	if set.observer != nil || !set.chain.Empty() {
		c.target = m.Target()
	}
	if set.observer != nil {
		c.params, c.start = m.Params, time.Now()
	}
	if token != "" {
		s.tokens[token] = st
	}
	if set.requestTimeout > 0 {
		c.timer = time.AfterFunc(set.requestTimeout, func() { s.timeout(key, c, set.requestTimeout) })
	}
	s.inflight[key] = c
	st.expect()
	return nil
}

// takeCall removes the call with id key if it is still in flight.
func (s *Session) takeCall(key string) *call {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.inflight[key]
	if c == nil {
		return nil
	}
	s.dropCallLocked(key, c)
	return c
}

func (s *Session) dropCallLocked(key string, c *call) {
	delete(s.inflight, key)
	if c.token != "" && s.tokens[c.token] == c.stream {
		delete(s.tokens, c.token)
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.unhold != nil {
		c.unhold() // a cancelled or answered request is held no longer
		s.forgetShiftLocked(c)
	}
}

// fail answers an in-flight request with an error, e.g. when it could not be
// sent upstream.
func (s *Session) fail(key string, code int, msg string) {
	if c := s.takeCall(key); c != nil {
		s.answerGateway(c, pipeline.NewError(c.id, code, msg))
	}
}

// timeout answers a request that outlived request_timeout and tells the
// server to stop working on it.
func (s *Session) timeout(key string, c *call, after time.Duration) {
	s.mu.Lock()
	if s.inflight[key] != c {
		s.mu.Unlock()
		return
	}
	s.dropCallLocked(key, c)
	s.mu.Unlock()
	s.answerGateway(c, pipeline.NewError(c.id, pipeline.CodeRequestTimeout,
		"the upstream MCP server did not answer within request_timeout ("+after.String()+")"))
	s.sendGateway(pipeline.CancelledNotification(c.id, "request timed out at the gateway"))
}

// cancelled handles the client's notifications/cancelled: the stream of the
// cancelled request ends without a response, and any late response is
// dropped (the notification itself is forwarded by the caller).
func (s *Session) cancelled(m *pipeline.Message) {
	id := m.CancelledRequestID()
	if id == nil {
		return
	}
	if c := s.takeCall(string(id)); c != nil {
		c.stream.respond(nil)
	}
}

// sendBackground sends a message of the gateway's own (a cancellation, a
// stage's answer to a server request) without blocking the caller.
func (s *Session) sendBackground(m *pipeline.Message) {
	conn := s.upstream()
	if conn == nil {
		return
	}
	s.store.goTracked(func() {
		ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		defer cancel()
		_ = conn.Send(ctx, m)
	})
}

// upstream returns the session's upstream connection (nil while opening).
func (s *Session) upstream() upstream.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// attachUpstream sets the connection once it opened. It reports false if
// the session ended meanwhile; the caller then closes conn.
func (s *Session) attachUpstream(conn upstream.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conn = conn
	s.spare() // until the client has had the time to finish its handshake
	return true
}

// Deliver routes one message from the server (upstream.Receiver).
func (s *Session) Deliver(m *pipeline.Message) { s.deliver(m, nil) }

// DeliverRelated routes a server message that the upstream knows belongs to
// the client request requestID (upstream.RelatedReceiver): it takes that
// request's stream while the request is in flight.
func (s *Session) DeliverRelated(m *pipeline.Message, requestID json.RawMessage) {
	s.deliver(m, requestID)
}

func (s *Session) deliver(m *pipeline.Message, related json.RawMessage) {
	switch chain := s.settings.Load().chain; {
	case chain.Len() > 0:
		s.enqueueOutbound(m, related) // the stages run off the reader (stages.go)
	case !chain.Empty():
		// Taps alone never wait: they hear the message on the reader.
		s.afterStages(m, related, chain.Start(s.ctx, s.clientExchange(m), m))
	default:
		s.deliverOn(m, related)
	}
}

// deliverOn routes a server message that passed the pipeline.
func (s *Session) deliverOn(m *pipeline.Message, related json.RawMessage) {
	set := s.settings.Load()
	if m.IsResponse() {
		c := s.takeCall(m.IDKey())
		if c == nil {
			if ce := set.logger.Check(zap.DebugLevel, "dropped a response to no request in flight (cancelled or timed out)"); ce != nil {
				ce.Write(zap.String("session", s.id), zap.ByteString("id", m.ID))
			}
			return
		}
		if c.method == "initialize" {
			if m.Error != nil {
				// The session ends before the answer goes out, so the
				// client's next request already finds it gone.
				s.endWith("the upstream MCP server refused initialize", func() { s.respondCall(c, m) })
				return
			}
			if v := m.ResultProtocolVersion(); v != "" {
				s.setVersion(v)
			}
		}
		s.respondCall(c, m)
		return
	}
	if m.Method == "notifications/progress" && s.hasShifts() {
		if m = s.shiftProgress(m); m == nil {
			return
		}
	}
	s.route(m, related).append(m)
}

// route picks the stream for a server request or notification. A message
// the upstream relates to a request in flight takes that request's stream.
// stdio carries no such link, so: progress goes to
// the stream of the request that holds its token; requests and log messages
// go to the POST stream of the only request in flight; everything else, and
// anything ambiguous, goes to the GET stream, whose buffer holds it until a
// client listens.
func (s *Session) route(m *pipeline.Message, related json.RawMessage) *stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	if related != nil {
		if c := s.inflight[string(related)]; c != nil {
			return c.stream
		}
	}
	switch {
	case m.Method == "notifications/progress":
		if st := s.tokens[string(m.NotificationProgressToken())]; st != nil {
			return st
		}
	case m.IsRequest() || m.Method == "notifications/message":
		if len(s.inflight) == 1 {
			for _, c := range s.inflight {
				return c.stream
			}
		}
	}
	return s.streams[getStreamIndex]
}

// Closed ends the session when the server side ended (upstream.Receiver).
func (s *Session) Closed(err error) {
	if s.settings.Load().chain.Len() > 0 && s.endAfterOutbound(err) {
		return // the outbound worker ends the session after what it still has (stages.go)
	}
	s.endUpstreamGone(err)
}

// endUpstreamGone is Closed once the server's messages before it are
// delivered: the session ends with the upstream's failure as its reason.
func (s *Session) endUpstreamGone(err error) {
	set := s.settings.Load()
	reason, data := publicFailure(set.logger, set.verboseErrors, "the upstream MCP server ended; initialize a new session",
		"upstream MCP server ended; closing its session", err, zap.String("session", s.id))
	s.mu.Lock()
	s.endData = &data
	s.mu.Unlock()
	s.end(reason)
}

// end ends the session: requests in flight are answered with an error,
// streams end, the upstream connection closes, and the id is forgotten, so
// the client's next request gets 404 and it initializes again.
func (s *Session) end(reason string) { s.endWith(reason, nil) }

// endWith is end with a last word: last runs once the session counts as
// ended (no request finds it any more) and before its streams close.
func (s *Session) endWith(reason string, last func()) { s.endIf(reason, nil, last) }

// endIf ends the session if only (checked under the session's lock) is nil
// or holds, and reports whether it did; last is endWith's.
func (s *Session) endIf(reason string, only func() bool, last func()) bool {
	s.mu.Lock()
	if s.closed || (only != nil && !only()) {
		s.mu.Unlock()
		return false
	}
	s.closed = true
	calls := s.inflight
	s.inflight = nil
	var data any
	if s.endData != nil {
		data = *s.endData
	}
	streams := make([]*stream, 0, len(s.streams))
	for _, st := range s.streams {
		streams = append(streams, st)
	}
	s.mu.Unlock()

	s.store.remove(s)
	if last != nil {
		last()
	}
	s.cancel()
	for _, c := range calls {
		if c.timer != nil {
			c.timer.Stop()
		}
		s.answerGateway(c, pipeline.NewErrorWithData(c.id, pipeline.CodeConnectionClosed, "session ended: "+reason, data))
	}
	for _, st := range streams {
		st.close()
		st.release()
	}
	if conn := s.upstream(); conn != nil {
		conn.Close()
	}
	return true
}

// busy reports whether requests are in flight: a client of the 2025
// revisions may drop its stream and resume later, so a session whose work
// runs on is not idle.
func (s *Session) busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.inflight) > 0
}

// isClosed reports whether the session has ended.
func (s *Session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Interface guard.
var _ upstream.RelatedReceiver = (*Session)(nil)

// respondCall answers call c (taken from the calls in flight) with m.
// Observer.OnAnswer hears of it first, so that what it records is in place
// by the time the POST's handler has written the answer.
func (s *Session) respondCall(c *call, m *pipeline.Message) {
	if on := s.settings.Load().observer; on != nil {
		on.OnAnswer(Answered{Post: c.post, Method: c.method, Target: c.target, Params: c.params,
			Session: s.id, User: s.user, Started: c.start, Answer: m})
	}
	c.stream.respond(m)
}
