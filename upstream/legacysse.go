package upstream

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
)

// errNoEndpoint is the cause of an SSE stream cancelled because its
// endpoint event took longer than ResponseHeaderTimeout.
var errNoEndpoint = errors.New("no endpoint event in time")

// LegacySSE is an upstream MCP server reached over the HTTP+SSE transport
// of revision 2024-11-05: each client session gets its own upstream
// session, which is one SSE stream (GET on the configured URL) whose first
// event, endpoint, names the URL to POST the client's messages to; every
// server message, responses included, arrives on that stream.
//
// Of HTTPConfig it uses URL (the SSE endpoint), Transport, Headers
// (evaluated once, in Open), ResponseHeaderTimeout (bounds the stream's
// headers and endpoint event together, and each POST's status),
// IdleTimeout (a stream silent that long ends the session: 2024-11-05
// streams cannot be resumed), MaxMessageSize, MaxInFlight (concurrent
// POSTs per session) and Logger.
//
// It does not implement Stateless: a 2026-07-28 client learns that the
// route is legacy-only and falls back to initialize. Its conns call the
// Receiver one call at a time and never after Closed or Close.
type LegacySSE struct {
	h *HTTP // the configuration, client, logger and goroutine tracking
}

// NewLegacySSE checks cfg, fills in the defaults and returns the upstream.
// It does not contact the server.
func NewLegacySSE(cfg HTTPConfig) (*LegacySSE, error) {
	h, err := NewHTTP(cfg)
	if err != nil {
		return nil, err
	}
	return &LegacySSE{h: h}, nil
}

// URL returns the upstream's SSE endpoint.
func (l *LegacySSE) URL() string { return l.h.url }

// Open starts a connection for a new client session. It does not contact
// the server: the SSE stream opens with the first Send (the client's
// initialize). ctx is the client's request that creates the session; the
// configured Headers are evaluated with it, once.
func (l *LegacySSE) Open(ctx context.Context, r Receiver) (Conn, error) {
	if r == nil {
		return nil, errors.New("upstream: Open needs a Receiver")
	}
	var hdr http.Header
	if l.h.headers != nil {
		hdr = l.h.headers(ctx).Clone()
	}
	return newLegacyConn(l.h, r, hdr), nil
}

// Wait blocks until every goroutine of every connection opened so far has
// returned: streams and POSTs.
func (l *LegacySSE) Wait() { l.h.Wait() }

// CloseIdleConnections closes the idle connections of the default
// transport (a transport passed in HTTPConfig belongs to the caller).
func (l *LegacySSE) CloseIdleConnections() { l.h.CloseIdleConnections() }

// legacyConn is one client session's upstream session over HTTP+SSE.
type legacyConn struct {
	h      *HTTP
	hc     *httpConn // the request machinery: headers, do, error wording
	recv   Receiver
	logger *zap.Logger

	ctx    context.Context // ends with the conn: cancels the stream and every POST
	cancel context.CancelFunc
	slots  chan struct{} // one per POST in flight

	// note prefixes the start error (AutoHTTP: why HTTP+SSE was tried);
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

func newLegacyConn(h *HTTP, r Receiver, hdr http.Header) *legacyConn {
	ctx, cancel := context.WithCancel(context.Background())
	return &legacyConn{
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
func (c *legacyConn) Send(ctx context.Context, m *pipeline.Message) error {
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
	x := &legacyPost{c: c, m: m, ctx: c.hc.carryAuthorization(ctx, c.ctx), handed: make(chan error, 1)}
	c.h.goTracked(func() {
		defer func() { <-c.slots }()
		x.run()
	})
	select {
	case err := <-x.handed:
		return err
	case <-ctx.Done():
		if m.IsRequest() {
			return nil // on its way; it will be answered
		}
		return ctx.Err()
	}
}

// Close ends the conn: the SSE stream (which is the upstream session: the
// 2024-11-05 transport has no DELETE) and every POST in flight are
// cancelled, and the Receiver hears nothing more. It does not wait.
func (c *legacyConn) Close() {
	c.closeOnce.Do(func() {
		c.quiet.Store(true)
		c.cancel()
	})
}

// endedErr is Send's error once the conn ended.
func (c *legacyConn) endedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone != nil {
		return fmt.Errorf("%w: %w", ErrClosed, c.gone)
	}
	return ErrClosed
}

// sessionEnded handles the end of the upstream session (the stream ended,
// or the server no longer knows it): everything stops and the Receiver
// hears Closed, once, after any delivery in progress.
func (c *legacyConn) sessionEnded(err error) {
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
func (c *legacyConn) deliver(m *pipeline.Message) {
	c.deliverMu.Lock()
	defer c.deliverMu.Unlock()
	if c.quiet.Load() || c.ctx.Err() != nil {
		return
	}
	c.recv.Deliver(m)
}

// run opens the SSE stream, publishes its endpoint, and delivers the
// server's messages until the stream ends, which ends the session.
func (c *legacyConn) run() {
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
func (c *legacyConn) open() (*response, *sseReader, string, *exchangeError) {
	began := time.Now()
	resp, xerr := c.hc.do(c.ctx, http.MethodGet, nil, "", nil)
	if xerr != nil {
		return nil, nil, "", xerr
	}
	fail := func(e *exchangeError) (*response, *sseReader, string, *exchangeError) {
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
	events := newSSEReader(resp.Body, c.h.cfg.MaxMessageSize)
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
	if ev.name != "endpoint" {
		return fail(c.hc.badGateway("the first event of the SSE stream is %q, want \"endpoint\" (is this a 2024-11-05 HTTP+SSE server?)", ev.name))
	}
	endpoint, err := resolveEndpoint(c.h.url, string(ev.data))
	if err != nil {
		return fail(c.hc.badGateway("%v", err))
	}
	return resp, events, endpoint, nil
}

// firstEvent returns the stream's first event with a name or data, skipping
// blocks that carry only an id or a retry hint.
func (c *legacyConn) firstEvent(events *sseReader) (*sseEvent, error) {
	for {
		ev, err := events.next()
		if err != nil {
			return nil, err
		}
		if ev.name != "" || ev.hasData || ev.tooLarge {
			return ev, nil
		}
	}
}

// read delivers the stream's message events until it ends (nil) or breaks.
func (c *legacyConn) read(events *sseReader) error {
	for {
		ev, err := events.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		switch {
		case ev.tooLarge:
			c.logger.Warn("dropped a server message larger than max_message_size",
				zap.Int("max_message_size", c.h.cfg.MaxMessageSize))
		case ev.isMessage():
			m, perr := pipeline.Parse(ev.data)
			if perr != nil {
				c.logger.Warn("the upstream sent an SSE event that is not a JSON-RPC message",
					zap.Error(perr), zap.ByteString("data", truncate(ev.data, 256)))
				continue
			}
			c.deliver(m)
		case ev.name == "endpoint":
			c.logger.Debug("ignored another endpoint event on the upstream SSE stream", zap.ByteString("data", truncate(ev.data, 256)))
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
	_ Upstream = (*LegacySSE)(nil)
	_ Conn     = (*legacyConn)(nil)
)
