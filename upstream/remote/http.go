package remote

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// Defaults of Config.
const (
	// DefaultResponseHeaderTimeout is Config.ResponseHeaderTimeout's default.
	DefaultResponseHeaderTimeout = 30 * time.Second
	// DefaultGetStreamGrace is Config.GetStreamGrace's default.
	DefaultGetStreamGrace = 30 * time.Second
	// DefaultMaxMessageSize is Config.MaxMessageSize's default (4 MiB).
	DefaultMaxMessageSize = 4 << 20
	// DefaultMaxInFlight is Config.MaxInFlight's default.
	DefaultMaxInFlight = 64

	// deleteTimeout bounds the DELETE that ends an upstream session.
	deleteTimeout = 5 * time.Second
	// maxResumeAttempts bounds the GETs that try to resume a request's
	// response stream without receiving anything.
	maxResumeAttempts = 5
)

// Config configures an upstream MCP server reached over the Streamable
// HTTP transport (revisions 2025-03-26 to 2025-11-25).
type Config struct {
	// URL is the upstream's MCP endpoint, http or https.
	URL string
	// Name is the upstream's configured name, which traces give its
	// exchanges ("" leaves it out).
	Name string
	// Transport makes the requests; use one per upstream so connections are
	// reused across its sessions. Nil means a default *http.Transport with
	// dial, TLS handshake and idle timeouts, owned by the HTTP upstream.
	// A wrapping RoundTripper may add per-request credentials (a token it
	// refreshes); when it fails a request with an error that has a
	// PublicCause() string method, the client reads that text.
	Transport http.RoundTripper
	// Headers returns extra headers for every request of an upstream
	// session. It is called once, in Open, with the context of the client's
	// initialize request (so the Caddy layer can evaluate placeholders);
	// reconnects in the background reuse the result. A stateless call
	// (Call) has no session: Headers is called for each, with the
	// request's context, so it must be safe for concurrent use. A Host entry sets the
	// request's Host; without one Host is the URL's host. The transport's
	// own headers (Content-Type, Accept, Mcp-Session-Id,
	// MCP-Protocol-Version, Last-Event-ID) cannot be set. The client's own
	// headers never reach the upstream: its Authorization is forwarded only
	// if Headers returns it (the Caddy layer's opt-in passthrough, outside
	// the MCP spec). Nil means none.
	Headers func(ctx context.Context) http.Header
	// PassAuthorization sends, with every request made for a client
	// request, that request's Authorization (see WithClientAuthorization)
	// instead of the one Headers gave at initialize; requests of the
	// upstream's own (the GET stream, the session's DELETE) take the
	// latest one a client request carried.
	PassAuthorization bool
	// VerboseErrors puts the detail of a failed exchange (the upstream's
	// URL, addresses, the server's words) into the error the client reads,
	// for development; by default it goes only to the log, under the
	// correlation_id the client's error carries.
	VerboseErrors bool
	// ResponseHeaderTimeout bounds the wait for the response headers of
	// each request (default 30s). Servers in JSON response mode send their
	// headers only with the response, so for them it bounds each call.
	ResponseHeaderTimeout time.Duration
	// IdleTimeout ends an upstream SSE stream that delivered no bytes (not
	// even a keep-alive comment) for this long; the stream is then resumed
	// like a dropped one. Zero (the default) disables it: TCP keep-alives of
	// the default transport still find dead peers.
	IdleTimeout time.Duration
	// MaxMessageSize bounds one message from the server (default 4 MiB).
	// Larger SSE events are skipped and logged; a larger JSON response
	// answers its request with an error.
	MaxMessageSize int
	// MaxInFlight bounds the concurrent POSTs of one session (default 64);
	// Send waits for a free slot.
	MaxInFlight int
	// GetStreamGrace is how long the upstream's GET stream stays open after
	// the client's last GET stream ended (default 30s), so a client that
	// reconnects finds the events sent meanwhile.
	GetStreamGrace time.Duration
	// Logger receives the upstream's logs; nil means none.
	Logger *zap.Logger
	// OnReconnect, if set, is told of every request that re-opens a
	// server's SSE stream the server (or the network) dropped: the GET
	// stream (ReconnectGet) and a response stream resumed with GET and
	// Last-Event-ID (ReconnectResume). It must be quick.
	OnReconnect func(kind Reconnect)
}

// Reconnect is the kind of stream a reconnection re-opens (Config.OnReconnect).
type Reconnect int

// The kinds of reconnections.
const (
	// ReconnectGet re-opens the session's GET stream.
	ReconnectGet Reconnect = iota
	// ReconnectResume resumes a POST's response stream.
	ReconnectResume
)

// String is the kind's name as metrics show it.
func (k Reconnect) String() string {
	if k == ReconnectResume {
		return "resume"
	}
	return "get"
}

// reconnected tells Config.OnReconnect of a reconnection of kind.
func (h *HTTP) reconnected(kind Reconnect) {
	if h.cfg.OnReconnect != nil {
		h.cfg.OnReconnect(kind)
	}
}

// HTTP is an upstream MCP server reached over Streamable HTTP: each client
// session gets its own upstream session (Mcp-Session-Id, never shown to the
// client), and all sessions share one transport.
//
// Its conns call the Receiver from several goroutines (one per response
// stream), one call at a time: messages of one stream keep their order,
// and nothing follows Closed or Close. A Receiver that implements
// RelatedReceiver learns which request each POST-stream message belongs
// to. The conns implement Listener.
type HTTP struct {
	url    string
	u      *url.URL // url parsed, which requests copy and no one mutates (httpreq.go)
	name   string   // url without query (which may hold a credential), for messages and logs
	cfg    Config
	client *http.Client
	// rt is client's Transport, which the requests of the conns' hot path
	// call directly: client only reports redirects (it follows none), and
	// its Do costs a header copier, a URL copy and an error wrapper each.
	rt      http.RoundTripper // a *rawClient for a plain http:// upstream (rawclient.go)
	ownTr   *http.Transport   // the default transport, if we built it
	headers func(ctx context.Context) http.Header
	logger  *zap.Logger
	peer    upstream.Peer // the server, as traces name it

	headerTimers sync.Pool // of stopped *headerTimer (headertimer.go)

	wg sync.WaitGroup // every goroutine of every conn
	workers
}

// NewHTTP checks cfg, fills in the defaults and returns the upstream. It
// does not contact the server.
func NewHTTP(cfg Config) (*HTTP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("upstream MCP server URL %q: %w", cfg.URL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("upstream MCP server URL %q: must be an absolute http:// or https:// URL", cfg.URL)
	}
	if u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("upstream MCP server URL %q: must not contain a fragment or user info (send credentials as headers)", cfg.URL)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"response header timeout", cfg.ResponseHeaderTimeout},
		{"idle timeout", cfg.IdleTimeout},
		{"GET stream grace", cfg.GetStreamGrace},
	} {
		if d.v < 0 {
			return nil, fmt.Errorf("upstream MCP server %s: %s must not be negative", cfg.URL, d.name)
		}
	}
	if cfg.MaxMessageSize < 0 || cfg.MaxInFlight < 0 {
		return nil, fmt.Errorf("upstream MCP server %s: limits must not be negative", cfg.URL)
	}
	cfg.ResponseHeaderTimeout = cmp.Or(cfg.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
	cfg.GetStreamGrace = cmp.Or(cfg.GetStreamGrace, DefaultGetStreamGrace)
	cfg.MaxMessageSize = cmp.Or(cfg.MaxMessageSize, DefaultMaxMessageSize)
	cfg.MaxInFlight = cmp.Or(cfg.MaxInFlight, DefaultMaxInFlight)
	h := &HTTP{url: u.String(), u: requestURL(u), name: displayURL(u), cfg: cfg, headers: cfg.Headers, logger: cfg.Logger, peer: peerOf(cfg.Name, u),
		workers: newWorkers()}
	if h.logger == nil {
		h.logger = zap.NewNop()
	}
	h.logger = h.logger.With(zap.String("upstream", h.name))
	rt := cfg.Transport
	if rt == nil {
		h.ownTr = defaultTransport()
		rt = h.ownTr
	}
	h.rt = rt
	if raw := newRawClient(rt, u); raw != nil {
		h.rt = raw
	}
	h.client = &http.Client{
		Transport: h.rt,
		// A redirect is reported, not followed: the session id and the
		// configured headers must not travel to another URL unasked.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return h, nil
}

// defaultTransport is the transport of an upstream configured without one.
func defaultTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   DefaultMaxInFlight,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// displayURL is how errors and logs name the upstream: without the query,
// which some hosted MCP servers use for an API key, and without user info.
func displayURL(u *url.URL) string {
	v := *u
	v.User, v.RawQuery, v.ForceQuery, v.Fragment = nil, "", false, ""
	return v.String()
}

// URL returns the upstream's MCP endpoint.
func (h *HTTP) URL() string { return h.url }

// Open starts a connection for a new client session. It does not contact
// the server: the upstream session begins with the client's initialize,
// which passes through Send. ctx is the client's initialize request's
// context; the configured Headers are evaluated with it, once.
func (h *HTTP) Open(ctx context.Context, r upstream.Receiver) (upstream.Conn, error) {
	if r == nil {
		return nil, errors.New("upstream: Open needs a Receiver")
	}
	var hdr http.Header
	if h.headers != nil {
		hdr = h.headers(ctx).Clone()
	}
	return newHTTPConn(h, r, hdr), nil
}

// CloseIdleConnections closes the idle connections of the default transport
// (a transport passed in Config belongs to the caller). Connections in
// use are not affected; call it when the upstream is unloaded.
func (h *HTTP) CloseIdleConnections() {
	if raw, ok := h.rt.(*rawClient); ok {
		raw.closeIdle()
	}
	if h.ownTr != nil {
		h.ownTr.CloseIdleConnections()
	}
}

// Interface guards.
var (
	_ upstream.Upstream = (*HTTP)(nil)
	_ upstream.Conn     = (*httpConn)(nil)
	_ upstream.Listener = (*httpConn)(nil)
)
