package front

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/seal"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// A Session's state and settings. Its methods are grouped by concern:
// session_calls.go (the requests in flight), session_streams.go (the SSE
// streams and their replay), session_upstream.go (the upstream connection
// and what it delivers), session_end.go (how a session ends), stages_outbound.go
// (the pipeline on the server's messages), fairshare.go and evict.go (the
// session bound), heldprogress.go, gateway.go (answers the gateway writes).

// sessionSettings are the per-configuration settings a session follows. A
// reload that keeps the session hands it the new settings on its next
// request.
type sessionSettings struct {
	heard          func(*pipeline.Message) // the cache hears what the upstream sends (cache.go); nil: none
	chain          *pipeline.Chain
	requestTimeout time.Duration
	replay         replayLimits
	maxInFlight    int
	logger         *zap.Logger
	verboseErrors  bool
	observer       Observer
	heldProgress   time.Duration                                    // Config.HeldProgressInterval
	cluster        *Cluster                                         // Config.Cluster: how new session ids are minted
	servers        func(method, target string) (server, own string) // Config.Servers
}

// Session is one client session of the 2025 revisions (or of the
// 2024-11-05 HTTP+SSE transport): our id, the upstream connection it owns,
// and the streams its messages travel on.
type Session struct {
	id       string
	clientID atomic.Pointer[string]    // the id its client holds when not id: sealed after the upstream answered (clusterserve.go)
	ring     atomic.Pointer[seal.Ring] // the cluster keys its id last opened with (Cluster.stillOpens)
	user     string
	client   string            // the per-client bound's key: the user, else the client's address
	up       upstream.Upstream // the upstream the session was opened on
	store    *Store
	sse2024  bool // 2024-11-05 HTTP+SSE: every server message takes the GET stream (sse2024.go)
	created  time.Time

	clientIP   string                           // of the request that started the session, for stages
	claim      func(name string) (string, bool) // the user's claims, for stages (Clients.Claims)
	pipeOnce   sync.Once                        // starts pipe
	pipe       *sessionPipeline                 // the outbound worker (stages_outbound.go), nil without stages
	shifted    map[string]*progressShift        // progress tokens of held requests (heldprogress.go); guarded by mu
	shiftCount atomic.Int32                     // len(shifted), read without the lock

	settings   atomic.Pointer[sessionSettings]
	lastActive atomic.Int64 // unix nanoseconds
	readers    atomic.Int32 // open HTTP streams; a listened-to session is not idle

	// What eviction needs to know without the session's lock (fairshare.go).
	handshook   atomic.Bool  // the client sent notifications/initialized
	usedEarly   atomic.Bool  // the client sent another request before that
	deleted     atomic.Bool  // the client ended it (DELETE): its upstream session ends too, in a cluster (clusterserve.go)
	sparedUntil atomic.Int64 // unix nanoseconds; no eviction takes the session before (0: none)

	epoch atomic.Uint64 // names this copy of the session in its sealed event ids (clusterevents.go); 0 until one is minted

	ctx    context.Context // ends when the session ends
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	conn     upstream.Conn // set once, right after the upstream opened
	version  string
	inflight map[string]*call
	// tracedExchanges counts the calls in flight with an exchange span
	// open, so that an untraced session's answers skip the lookup.
	tracedExchanges atomic.Int32
	tokens          map[string]*stream
	streams         map[uint64]*stream
	order           []uint64 // POST stream indexes, oldest first
	nextStream      uint64
	unpublished     uint64              // counts the keys of unpublished streams
	endData         *pipeline.ErrorData // data of the errors answering calls cut short, when the end has a log line
}

func newSession(store *Store, user string, settings *sessionSettings, version string) *Session {
	ctx, cancelCause := context.WithCancelCause(context.Background())
	// The cause tells a stage whose wait ends with the session that the
	// session ended (pipeline.CancelledEnd), not the request.
	cancel := func() { cancelCause(pipeline.ErrSessionEnded) }
	s := &Session{
		id:         settings.cluster.mintSessionID(user, version),
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
	if settings.cluster != nil {
		s.ring.Store(settings.cluster.Ring)
	}
	s.streams[getStreamIndex] = store.budget.newStream(getStreamIndex, settings.replay)
	s.touch()
	return s
}

// ID returns the client-facing session id.
func (s *Session) ID() string { return s.heldID() }

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

// busy reports whether requests are in flight: a client of the 2025
// revisions may drop its stream and resume later, so a session whose work
// runs on is not idle.
func (s *Session) busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.inflight) > 0
}

// Interface guard.
var _ upstream.RelatedReceiver = (*Session)(nil)
