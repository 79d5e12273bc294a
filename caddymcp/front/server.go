// Package front is the client side of the gateway: the Streamable HTTP
// transport of the 2025 MCP revisions, with our own sessions, per-stream
// replay buffers and resumable SSE streams, and on the same endpoint the
// 2024-11-05 HTTP+SSE transport for old clients (sse2024.go). It is plain Go
// (no Caddy): the Caddy face builds a Server from configuration and calls
// ServeHTTP; the Server asks it who a request's client is and tells it what
// happened through two interfaces, Clients and Observer (hooks.go).
//
// The path of a request: ServeHTTP (server.go) checks Host and Origin and
// hands a POST to post.go, a GET to get.go; a POST of the 2026-07-28
// revision goes to stateless*.go, one of a 2024-11-05 session to sse2024.go,
// the others to their Session (session*.go) through the client-side stages
// (stages_inbound.go) and the upstream; the server's messages come back
// through the outbound stages (stages_outbound.go) onto the session's
// streams (stream.go), which answer.go writes to the client.
package front

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcptrace"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/cache"
)

// Defaults for Config fields left zero.
const (
	DefaultMaxMessageSize = 4 << 20
	DefaultKeepAlive      = 15 * time.Second
	DefaultReplayEvents   = 512
	DefaultReplayBytes    = 1 << 20
	DefaultMaxInFlight    = 64
	DefaultRetryAfter     = 1 // seconds, for 503/429 answers
)

// Config configures a Server.
type Config struct {
	// Upstream opens the server side of each new session.
	Upstream upstream.Upstream
	// Store holds the sessions; it may outlive the Server (reloads).
	Store *Store
	// Chain is the pipeline every message passes; nil means none.
	Chain *pipeline.Chain
	// MaxMessageSize bounds a POST body in bytes.
	MaxMessageSize int64
	// RequestTimeout bounds how long a request waits for the server; 0 means no bound.
	RequestTimeout time.Duration
	// AllowedOrigins lists Origin values allowed besides loopback and the request's own host ("*" allows all).
	AllowedOrigins []string
	// AllowedHosts lists Host values allowed besides loopback names ("*" allows all). Unset, only loopback
	// listeners check the Host; set, every listener does (a container port mapped to the host's loopback).
	AllowedHosts []string
	// KeepAlive is the interval of comment lines on idle SSE streams.
	KeepAlive time.Duration
	// ReplayEvents and ReplayBytes bound each stream's replay buffer.
	ReplayEvents, ReplayBytes int
	// MaxInFlight bounds the requests in flight per session.
	MaxInFlight int
	// MaxStatelessInFlight bounds the 2026-07-28 requests in flight across
	// all clients, subscriptions/listen streams aside (0: the default,
	// DefaultMaxStatelessInFlight).
	MaxStatelessInFlight int
	// MaxListens bounds the open 2026-07-28 subscriptions/listen streams
	// across all clients (0: the default, DefaultMaxListens); each client
	// may hold DefaultMaxListensPerClient of them.
	MaxListens int
	// Clients tells who sent a request; nil: NoClients.
	Clients Clients
	// Observer is told what the Server does; nil: nobody.
	Observer Observer
	// Servers, on an endpoint of several MCP servers, tells the server a
	// request goes to and its own name for what the request names
	// (pipeline.Exchange.Servers); nil on an endpoint of one server.
	Servers func(method, target string) (server, own string)
	// HeldProgressInterval is how often the client of a request a stage
	// holds hears notifications/progress, when it gave a progressToken
	// (0: DefaultHeldProgressInterval).
	HeldProgressInterval time.Duration
	// Logger receives the server's logs.
	Logger *zap.Logger
	// VerboseErrors puts the detail of upstream failures (a command line,
	// a pid, the cause's own words) into the errors clients read, for
	// development; by default it goes only to the log, on a line whose
	// correlation_id the client's error data carries.
	VerboseErrors bool
	// Cache answers 2026-07-28 requests from what the upstream marked
	// public (upstream/cache), in front of Upstream, and hears the change
	// notifications sessions receive; nil: no cache.
	Cache *cache.Cache
	// CacheServer is Upstream's server key in Cache.
	CacheServer string
	// Watch is what the stages read in a client message besides the
	// protocol's members (pipeline.NewWatch of their rules' pointers): a
	// POST spelling one of them in another case only is refused, since a
	// Go server would read it and the rules would not. nil: the protocol's.
	Watch *pipeline.Watch
	// Cluster, when set, makes the session ids sealed tokens that the
	// other instances of the cluster accept (cluster.go); nil: random ids.
	Cluster *Cluster
	// Trace shapes the spans of requests, made when Caddy's tracing
	// handler traces the HTTP request (mcptrace).
	Trace mcptrace.Options
}

// codeSessionNotFound is the error code the TypeScript SDK uses for an
// unknown session; clients key on the 404, the code only helps humans.
const codeSessionNotFound = -32001

// Server serves the MCP endpoint for one configuration.
type Server struct {
	cfg      Config
	settings *sessionSettings

	statelessSlots slots              // 2026-07-28 requests in flight per client address
	stateless      upstream.Stateless // Upstream's 2026-07-28 side (behind Cache); nil: sessions only

	shutdownOnce sync.Once
	shutdown     chan struct{} // closed when this configuration is unloaded, or at exit

	exitOnce sync.Once
	exit     chan struct{}   // closed when the process exits
	exitCtx  context.Context // done when exit is closed
	exitStop context.CancelFunc
}

// New validates cfg, applies defaults and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Upstream == nil {
		return nil, errors.New("front: no upstream")
	}
	if cfg.Store == nil {
		return nil, errors.New("front: no session store")
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.ReplayEvents <= 0 {
		cfg.ReplayEvents = DefaultReplayEvents
	}
	if cfg.ReplayBytes <= 0 {
		cfg.ReplayBytes = DefaultReplayBytes
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Clients == nil {
		cfg.Clients = NoClients{}
	}
	exitCtx, exitStop := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg,
		settings: &sessionSettings{
			chain:          cfg.Chain,
			requestTimeout: cfg.RequestTimeout,
			replay:         replayLimits{events: cfg.ReplayEvents, bytes: cfg.ReplayBytes},
			maxInFlight:    cfg.MaxInFlight,
			logger:         cfg.Logger,
			verboseErrors:  cfg.VerboseErrors,
			observer:       cfg.Observer,
			heldProgress:   cfg.HeldProgressInterval,
			cluster:        cfg.Cluster,
			servers:        cfg.Servers,
		},
		shutdown: make(chan struct{}),
		exit:     make(chan struct{}),
		exitCtx:  exitCtx,
		exitStop: exitStop,
	}
	s.useCache()
	return s, nil
}

// Shutdown is called when this configuration is unloaded (a reload).
// Standalone GET streams served by it end gracefully — an event with a
// fresh id, a retry hint, the close — so their clients reconnect (with
// Last-Event-ID) to the configuration that replaced it and resume from the
// replay buffer, which lives in the Store. Other streams stay: POST streams
// finish on their own, 2024-11-05 streams cannot resume elsewhere, and a
// 2026-07-28 subscriptions/listen stream would not be opened again by every
// client (the go-sdk's opens it once per connection), so ending it would
// silently lose the client's subscription. Idempotent.
func (s *Server) Shutdown() {
	s.shutdownOnce.Do(func() { close(s.shutdown) })
}

// Exit is called when the process begins to exit, before the HTTP server
// waits for its handlers: every long stream of this Server ends, so that
// the exit waits for none of them. Standalone GET streams and POST streams
// still waiting end as at Shutdown (a fresh id and a retry hint: the
// process is going away, but the client may find another), a POST not yet
// answered gets 503, 2024-11-05 streams and their sessions end, and
// 2026-07-28 calls and subscriptions/listen streams are cancelled.
// Idempotent; it implies Shutdown.
func (s *Server) Exit() {
	s.exitOnce.Do(func() {
		close(s.exit)
		s.exitStop()
	})
	s.Shutdown()
}

// untilExit returns a context that ends with parent or at Exit, for work
// that must not hold up the exit (2026-07-28 calls, whose end is their
// cancellation). Call stop when done.
func (s *Server) untilExit(parent context.Context) (ctx context.Context, stop context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	unhook := context.AfterFunc(s.exitCtx, cancel)
	return ctx, func() { unhook(); cancel() }
}

// ServeHTTP serves one request to the MCP endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if reason := s.checkHostOrigin(r); reason != "" {
		writeError(w, http.StatusForbidden, nil, pipeline.CodeInvalidRequest, "Forbidden: "+reason)
		return
	}
	// The upstream forwards the Authorization of the request it serves
	// when configured to (pass_authorization), not the initialize's.
	r = r.WithContext(upstream.WithClientAuthorization(r.Context(), r.Header.Get("Authorization")))
	if s.cfg.Cluster != nil && s.clusterHop(w, r) {
		return // forwarded to the session's owner, or a refused hop (hop.go)
	}
	switch r.Method {
	case http.MethodPost:
		s.servePost(w, r)
	case http.MethodGet:
		if !acceptsListed(r, "text/event-stream") {
			writeError(w, http.StatusNotAcceptable, nil, pipeline.CodeInvalidRequest,
				"Not Acceptable: a GET opens an event stream and must list text/event-stream in Accept (a wildcard such as */* is not enough)")
			return
		}
		s.serveGet(w, r)
	case http.MethodDelete:
		s.serveDelete(w, r)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		writeError(w, http.StatusMethodNotAllowed, nil, pipeline.CodeInvalidRequest,
			"Method Not Allowed: the MCP endpoint takes POST, GET and DELETE")
	}
}

// lookupSession finds the session a request names, checks that it belongs
// to the request's user and that the request speaks the session's
// transport (sse2024: the 2024-11-05 HTTP+SSE transport, which names the
// session in the query). On failure it has answered the client.
func (s *Server) lookupSession(w http.ResponseWriter, r *http.Request, id string, sse2024 bool) *Session {
	sess := s.cfg.Store.get(id)
	if sess != nil && s.cfg.Cluster != nil && !s.cfg.Cluster.stillOpens(sess) {
		sess.end("its id was sealed with a cluster key that is no longer configured")
		sess = nil
	}
	if sess == nil && s.cfg.Cluster != nil && !sse2024 {
		sess = s.rejoin(r, id) // a session another instance began (clusterserve.go)
	}
	// In a cluster a session of another user is not found, as an id bound
	// to another user would not open on another instance (cluster.go).
	if sess == nil || sess.isClosed() || (s.cfg.Cluster != nil && sess.user != s.userID(r)) {
		writeSessionNotFound(w, sse2024)
		return nil
	}
	if sess.user != s.userID(r) {
		writeError(w, http.StatusForbidden, nil, pipeline.CodeInvalidRequest,
			"Forbidden: this session belongs to another user")
		return nil
	}
	if sess.sse2024 != sse2024 {
		writeTransportMismatch(w, sess.sse2024)
		return nil
	}
	sess.settings.Store(s.settings)
	sess.touch()
	return sess
}

// serveDelete ends a session.
func (s *Server) serveDelete(w http.ResponseWriter, r *http.Request) {
	if isStatelessVersion(r.Header.Get("Mcp-Protocol-Version")) {
		writeStatelessMethodNotAllowed(w)
		return
	}
	id := r.Header.Get("Mcp-Session-Id")
	if id == "" {
		writeError(w, http.StatusBadRequest, nil, pipeline.CodeInvalidRequest,
			"Bad Request: DELETE needs the Mcp-Session-Id header of the session to end")
		return
	}
	sess := s.lookupSession(w, r, id, false)
	if sess == nil {
		return
	}
	sess.deleted.Store(true)
	sess.end("the client ended the session (DELETE)")
	w.WriteHeader(http.StatusNoContent)
}
