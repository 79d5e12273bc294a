package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/sse"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// errNoEndpoint is the cause of an SSE stream cancelled because its
// endpoint event took longer than ResponseHeaderTimeout.
var errNoEndpoint = errors.New("no endpoint event in time")

// SSE2024 is an upstream MCP server reached over the HTTP+SSE transport
// of revision 2024-11-05: each client session gets its own upstream
// session, which is one SSE stream (GET on the configured URL) whose first
// event, endpoint, names the URL to POST the client's messages to; every
// server message, responses included, arrives on that stream.
//
// Of Config it uses URL (the SSE endpoint), Transport, Headers
// (evaluated once, in Open), ResponseHeaderTimeout (bounds the stream's
// headers and endpoint event together, and each POST's status),
// IdleTimeout (a stream silent that long ends the session: 2024-11-05
// streams cannot be resumed), MaxMessageSize, MaxInFlight (concurrent
// POSTs per session) and Logger.
//
// It does not implement Stateless: a 2026-07-28 client learns that the
// route serves only the 2025 revisions and falls back to initialize. Its conns call the
// Receiver one call at a time and never after Closed or Close.
type SSE2024 struct {
	h *HTTP // the configuration, client, logger and goroutine tracking
}

// NewSSE2024 checks cfg, fills in the defaults and returns the upstream.
// It does not contact the server.
func NewSSE2024(cfg Config) (*SSE2024, error) {
	h, err := NewHTTP(cfg)
	if err != nil {
		return nil, err
	}
	return &SSE2024{h: h}, nil
}

// URL returns the upstream's SSE endpoint.
func (l *SSE2024) URL() string { return l.h.url }

// Open starts a connection for a new client session. It does not contact
// the server: the SSE stream opens with the first Send (the client's
// initialize). ctx is the client's request that creates the session; the
// configured Headers are evaluated with it, once.
func (l *SSE2024) Open(ctx context.Context, r upstream.Receiver) (upstream.Conn, error) {
	if r == nil {
		return nil, errors.New("upstream: Open needs a Receiver")
	}
	var hdr http.Header
	if l.h.headers != nil {
		hdr = l.h.headers(ctx).Clone()
	}
	return newSSE2024Conn(l.h, r, hdr), nil
}

// Wait blocks until every goroutine of every connection opened so far has
// returned: streams and POSTs.
func (l *SSE2024) Wait() { l.h.Wait() }

// CloseIdleConnections closes the idle connections of the default
// transport (a transport passed in Config belongs to the caller).
func (l *SSE2024) CloseIdleConnections() { l.h.CloseIdleConnections() }

// sse2024Conn is one client session's upstream session over HTTP+SSE.
type sse2024Conn struct {
	h      *HTTP
	hc     *httpConn // the request machinery: headers, do, error wording
	recv   upstream.Receiver
	logger *zap.Logger

	ctx    context.Context // ends with the conn: cancels the stream and every POST
	cancel context.CancelFunc
	slots  chan struct{} // one per POST in flight

	// note prefixes the start error (Auto: why HTTP+SSE was tried);
	// started, if set, is called once the endpoint is known.
	note    string
	started func()

	startOnce sync.Once
	ready     chan struct{} // closed once endpoint or startErr is set
	endpoint  string        // where to POST; written before ready closes
	startErr  *exchangeError

	// deliverMu serializes calls into the Receiver; quiet (also set by
	// Close without the lock) stops them.
	deliverMu sync.Mutex
	quiet     atomic.Bool
	closeOnce sync.Once

	mu   sync.Mutex
	gone error // why the upstream ended the session; nil while it lives
}

func newSSE2024Conn(h *HTTP, r upstream.Receiver, hdr http.Header) *sse2024Conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &sse2024Conn{
		h:      h,
		hc:     &httpConn{h: h, headers: hdr, logger: h.logger},
		recv:   r,
		logger: h.logger,
		ctx:    ctx,
		cancel: cancel,
		slots:  make(chan struct{}, h.cfg.MaxInFlight),
		ready:  make(chan struct{}),
	}
}

// Send POSTs m, byte for byte, to the session's message endpoint; the first
// Send opens the SSE stream and waits for its endpoint event. It waits for
// a free slot (at most MaxInFlight POSTs per session), then returns once
// the server accepted the message (2xx; its answer comes on the stream), or
// failed. A request that fails (no stream, no endpoint in time, a POST
// refused or unanswered) is answered through the Receiver with an error
// response of the HTTP upstream's making (GatewayError data) and Send
// returns nil; for a notification or a response Send returns the error. If
// ctx ends first, a request is on its way all the same (Send returns nil)
// and a notification's Send returns ctx.Err().
func (c *sse2024Conn) Send(ctx context.Context, m *pipeline.Message) error {
	if c.ctx.Err() != nil {
		return c.endedErr()
	}
	c.startOnce.Do(func() { c.h.goTracked(c.run) })
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return c.endedErr()
	}
	x := &sse2024Post{post: post{m: m, ctx: c.hc.carryAuthorization(ctx, c.ctx), handed: make(chan error, 1)}, c: c}
	c.h.goTracked(func() {
		defer func() { <-c.slots }()
		x.run()
	})
	return x.wait(ctx)
}

// Close ends the conn: the SSE stream (which is the upstream session: the
// 2024-11-05 transport has no DELETE) and every POST in flight are
// cancelled, and the Receiver hears nothing more. It does not wait.
func (c *sse2024Conn) Close() {
	c.closeOnce.Do(func() {
		c.quiet.Store(true)
		c.cancel()
	})
}

// endedErr is Send's error once the conn ended.
func (c *sse2024Conn) endedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone != nil {
		return fmt.Errorf("%w: %w", upstream.ErrClosed, c.gone)
	}
	return upstream.ErrClosed
}

// sessionEnded handles the end of the upstream session (the stream ended,
// or the server no longer knows it): everything stops and the Receiver
// hears Closed, once, after any delivery in progress.
func (c *sse2024Conn) sessionEnded(err error) {
	c.mu.Lock()
	first := c.gone == nil
	if first {
		c.gone = err
	}
	c.mu.Unlock()
	if !first {
		return
	}
	c.cancel()
	c.deliverMu.Lock()
	defer c.deliverMu.Unlock()
	if !c.quiet.Swap(true) {
		c.logger.Info("the upstream MCP server ended the session", zap.Error(err))
		c.recv.Closed(err)
	}
}

// deliver hands m to the Receiver.
func (c *sse2024Conn) deliver(m *pipeline.Message) {
	c.deliverMu.Lock()
	defer c.deliverMu.Unlock()
	if c.quiet.Load() || c.ctx.Err() != nil {
		return
	}
	c.recv.Deliver(m)
}

// run opens the SSE stream, publishes its endpoint, and delivers the
// server's messages until the stream ends, which ends the session.
func (c *sse2024Conn) run() {
	resp, events, endpoint, xerr := c.open()
	if xerr != nil {
		xerr.msg = c.note + xerr.msg
		if c.ctx.Err() == nil {
			c.logger.Warn("opening the upstream HTTP+SSE session failed", zap.Error(xerr))
		}
		c.startErr = xerr
		close(c.ready)
		return
	}
	c.endpoint = endpoint
	close(c.ready)
	if c.started != nil {
		c.started()
	}
	err := c.read(events)
	cause := context.Cause(resp.ctx)
	resp.close()
	if c.ctx.Err() != nil {
		return // Close
	}
	msg := "the SSE stream ended"
	switch {
	case errors.Is(cause, errIdle):
		msg = fmt.Sprintf("the SSE stream sent nothing for %s", c.h.cfg.IdleTimeout)
	case err != nil:
		msg = fmt.Sprintf("the SSE stream broke: %v", err)
	}
	c.sessionEnded(fmt.Errorf("upstream MCP server %s ended the session: %s (an HTTP+SSE stream cannot be resumed)", c.h.name, msg))
}

// open GETs the SSE stream and reads its endpoint event, both within
// ResponseHeaderTimeout. On success the stream is the caller's to close.
func (c *sse2024Conn) open() (*response, *sse.Reader, string, *exchangeError) {
	began := time.Now()
	resp, xerr := c.hc.do(c.ctx, http.MethodGet, nil, "", nil)
	if xerr != nil {
		return nil, nil, "", xerr
	}
	fail := func(e *exchangeError) (*response, *sse.Reader, string, *exchangeError) {
		resp.close()
		return nil, nil, "", e
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _, _ := readBounded(resp.Body, 4<<10)
		e := c.hc.statusError(resp.Response, body)
		e.msg = "opening the SSE stream: " + e.msg
		switch resp.StatusCode {
		case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusNotAcceptable:
			e.msg += " (the URL must be the server's 2024-11-05 SSE endpoint)"
		}
		return fail(e)
	}
	if ct := mediaType(resp.Header); ct != "text/event-stream" {
		return fail(c.hc.badGateway("%s with Content-Type %q to the SSE GET, not an event stream (the URL must be the server's 2024-11-05 SSE endpoint)",
			resp.Status, resp.Header.Get("Content-Type")))
	}
	timeout := c.h.cfg.ResponseHeaderTimeout
	timer := time.AfterFunc(max(timeout-time.Since(began), 0), func() { resp.cancel(errNoEndpoint) })
	events := sse.NewReader(resp.Body, c.h.cfg.MaxMessageSize)
	ev, err := c.firstEvent(events)
	if !timer.Stop() || errors.Is(context.Cause(resp.ctx), errNoEndpoint) {
		return fail(c.hc.gatewayTimeout("no endpoint event on the SSE stream within %s", timeout))
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fail(c.hc.badGateway("the SSE stream ended before its endpoint event"))
		}
		return fail(c.hc.badGateway("the SSE stream broke before its endpoint event: %v", err))
	}
	if ev.Name != "endpoint" {
		return fail(c.hc.badGateway("the first event of the SSE stream is %q, want \"endpoint\" (is this a 2024-11-05 HTTP+SSE server?)", ev.Name))
	}
	endpoint, err := resolveEndpoint(c.h.url, string(ev.Data))
	if err != nil {
		return fail(c.hc.badGateway("%v", err))
	}
	return resp, events, endpoint, nil
}

// firstEvent returns the stream's first event with a name or data, skipping
// blocks that carry only an id or a retry hint.
func (c *sse2024Conn) firstEvent(events *sse.Reader) (*sse.Event, error) {
	for {
		ev, err := events.Next()
		if err != nil {
			return nil, err
		}
		if ev.Name != "" || ev.HasData || ev.TooLarge {
			return ev, nil
		}
	}
}

// read delivers the stream's message events until it ends (nil) or breaks.
func (c *sse2024Conn) read(events *sse.Reader) error {
	for {
		ev, err := events.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		switch {
		case ev.TooLarge:
			c.logger.Warn("dropped a server message larger than max_message_size",
				zap.Int("max_message_size", c.h.cfg.MaxMessageSize))
		case ev.IsMessage():
			m, perr := pipeline.Parse(ev.Data)
			if perr != nil {
				c.logger.Warn("the upstream sent an SSE event that is not a JSON-RPC message",
					zap.Error(perr), zap.ByteString("data", truncate(ev.Data, 256)))
				if m = pipeline.StandIn(ev.Data, perr); m == nil {
					continue
				}
			}
			c.deliver(m)
		case ev.Name == "endpoint":
			c.logger.Debug("ignored another endpoint event on the upstream SSE stream", zap.ByteString("data", truncate(ev.Data, 256)))
		}
	}
}

// resolveEndpoint resolves the endpoint event's URI against the SSE URL.
// Relative and absolute URIs are accepted on the SSE URL's own origin
// (scheme, host and port) only, as the TypeScript SDK's client does: the
// session and the configured headers, which may be the upstream's
// credentials, must not travel to a server the operator did not configure
// (the HTTP upstream does not follow redirects for the same reason).
func resolveEndpoint(sseURL, data string) (string, error) {
	base, err := url.Parse(sseURL)
	if err != nil {
		return "", err
	}
	raw := strings.TrimSpace(data)
	if raw == "" {
		return "", errors.New("the endpoint event of the SSE stream is empty")
	}
	u, err := base.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("the endpoint event names %q, not a URI: %v", truncate([]byte(raw), 256), err)
	}
	if u.User != nil || !sameOrigin(base, u) {
		return "", fmt.Errorf("the endpoint event names %q, not on the SSE URL's origin %s://%s: refused, so that the session and the configured headers stay with the configured server",
			truncate([]byte(raw), 256), base.Scheme, base.Host)
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String(), nil
}

// sameOrigin reports whether a and b have the same scheme, host and port.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) &&
		effectivePort(a) == effectivePort(b)
}

func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

// Interface guards.
var (
	_ upstream.Upstream = (*SSE2024)(nil)
	_ upstream.Conn     = (*sse2024Conn)(nil)
)
