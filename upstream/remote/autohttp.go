package remote

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// Transports an Auto upstream may have found.
const (
	autoUnknown int32 = iota
	autoStreamable
	autoSSE
)

// sseFallback is what Send returns for the initialize of a probing conn
// that the server refused as a Streamable HTTP POST with a qualifying
// status: the request was not processed, and the caller may send it again
// over HTTP+SSE.
type sseFallback struct {
	status string // e.g. "405 Method Not Allowed"
	detail string // what the body said, if anything
}

func (e *sseFallback) Error() string {
	s := "the server refused the Streamable HTTP POST of initialize with " + e.status
	if e.detail != "" {
		s += " (" + e.detail + ")"
	}
	return s
}

// Auto is an upstream MCP server reached over Streamable HTTP or, if it
// speaks only the 2024-11-05 transport, over HTTP+SSE: the old-client
// fallback of the MCP specification, done once per upstream.
//
// Until the transport is known, a session's initialize is POSTed as
// Streamable HTTP. A 2xx answer means Streamable HTTP. A 400, 404 or 405
// without a JSON-RPC answer in the body (the statuses that qualify from
// 2025-11-25 on; a JSON-RPC error is a Streamable HTTP server's refusal
// and passes through) means the server never processed it: the same
// initialize is then sent over HTTP+SSE on the same URL (a GET that must
// yield an endpoint event). The first answer that settles it (a 2xx, or an
// endpoint event after such a refusal) is remembered for the upstream's
// lifetime: later sessions go straight to that transport. Failures settle
// nothing (a server that is down is probed again by the next session).
//
// It implements Stateless through the Streamable HTTP upstream; once the
// server is known to speak only HTTP+SSE, Call returns ErrSessionfulOnly
// without asking it.
type Auto struct {
	h      *HTTP
	found  atomic.Int32 // autoUnknown, autoStreamable or autoSSE
	logged sync.Once
}

// NewAuto checks cfg, fills in the defaults and returns the upstream.
// It does not contact the server. Both transports share one RoundTripper.
func NewAuto(cfg Config) (*Auto, error) {
	h, err := NewHTTP(cfg)
	if err != nil {
		return nil, err
	}
	return &Auto{h: h}, nil
}

// URL returns the upstream's URL.
func (a *Auto) URL() string { return a.h.url }

// Wait blocks until every goroutine of every connection opened so far has
// returned.
func (a *Auto) Wait() { a.h.Wait() }

// CloseIdleConnections closes the idle connections of the default
// transport (a transport passed in Config belongs to the caller).
func (a *Auto) CloseIdleConnections() { a.h.CloseIdleConnections() }

// Transport returns the transport found so far: "streamable", "sse", or ""
// while unknown.
func (a *Auto) Transport() string {
	switch a.found.Load() {
	case autoStreamable:
		return "streamable"
	case autoSSE:
		return "sse"
	}
	return ""
}

// Open starts a connection for a new client session, on the transport found
// earlier, or probing. It does not contact the server. The configured
// Headers are evaluated with ctx, once, whatever the transport.
func (a *Auto) Open(ctx context.Context, r upstream.Receiver) (upstream.Conn, error) {
	if r == nil {
		return nil, errors.New("upstream: Open needs a Receiver")
	}
	var hdr http.Header
	if a.h.headers != nil {
		hdr = a.h.headers(ctx).Clone()
	}
	switch a.found.Load() {
	case autoStreamable:
		return newHTTPConn(a.h, r, hdr), nil
	case autoSSE:
		return newSSE2024Conn(a.h, r, hdr), nil
	}
	hc := newHTTPConn(a.h, r, hdr)
	hc.probe = a.probe
	return &autoConn{a: a, recv: r, hdr: hdr, conn: hc, decided: make(chan struct{})}, nil
}

// Call forwards a 2026-07-28 request (Stateless) as HTTP.Call does, or
// returns ErrSessionfulOnly once the server is known to speak only HTTP+SSE.
func (a *Auto) Call(ctx context.Context, req *upstream.StatelessRequest, deliver func(m *pipeline.Message, status int)) error {
	if a.found.Load() == autoSSE {
		return upstream.ErrSessionfulOnly
	}
	return a.h.Call(ctx, req, deliver)
}

// probe judges the status of a probing initialize POST: a 2xx settles
// Streamable HTTP; 400, 404 and 405 ask for the HTTP+SSE fallback.
func (a *Auto) probe(status int) bool {
	switch {
	case status >= 200 && status <= 299:
		a.settle(autoStreamable)
	case status == http.StatusBadRequest, status == http.StatusNotFound, status == http.StatusMethodNotAllowed:
		return true
	}
	return false
}

// settle remembers the transport found, once.
func (a *Auto) settle(t int32) {
	if a.found.CompareAndSwap(autoUnknown, t) {
		a.logged.Do(func() {
			a.h.logger.Info("found the upstream's MCP transport; later sessions use it", zap.String("transport", a.Transport()))
		})
	}
}

// autoConn is a session of an Auto upstream that started before the
// transport was known: a Streamable HTTP conn with a probing initialize,
// replaced by an HTTP+SSE conn when the server refuses that initialize.
type autoConn struct {
	a       *Auto
	recv    upstream.Receiver
	hdr     http.Header
	decided chan struct{} // closed when the first Send is done

	mu      sync.Mutex
	conn    upstream.Conn // *httpConn, or *sse2024Conn after the fallback
	probing bool          // the first Send is under way
	closed  bool
}

// current returns the conn messages go to.
func (c *autoConn) current() upstream.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn
}

// Send sends m on the session's conn. The first Send (the client's
// initialize) is the probe; Sends that overlap it wait until it is done, so
// that nothing overtakes the initialize. The probe's own wait is bounded by
// ResponseHeaderTimeout and the conn, not by ctx: its outcome decides the
// session's transport.
func (c *autoConn) Send(ctx context.Context, m *pipeline.Message) error {
	return c.send(ctx, m, false)
}

// SendAwaited is Send for an awaited request (upstream.AwaitedSender),
// once the transport is known.
func (c *autoConn) SendAwaited(ctx context.Context, m *pipeline.Message) error {
	return c.send(ctx, m, true)
}

func (c *autoConn) send(ctx context.Context, m *pipeline.Message, awaited bool) error {
	c.mu.Lock()
	first := !c.probing
	c.probing = true
	hc, _ := c.conn.(*httpConn)
	c.mu.Unlock()
	if !first {
		select {
		case <-c.decided:
		case <-ctx.Done():
			return ctx.Err()
		}
		if awaited {
			return upstream.SendAwaited(ctx, c.current(), m)
		}
		return c.current().Send(ctx, m)
	}
	defer close(c.decided)
	err := hc.Send(context.WithoutCancel(ctx), m)
	var fb *sseFallback
	if !errors.As(err, &fb) {
		return err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return upstream.ErrClosed
	}
	lc := newSSE2024Conn(c.a.h, c.recv, c.hdr)
	lc.note = fb.Error() + ", so it was sent over HTTP+SSE (2024-11-05), which failed: "
	lc.started = func() { c.a.settle(autoSSE) }
	c.conn = lc
	c.mu.Unlock()
	c.a.h.logger.Debug("the upstream refused a Streamable HTTP initialize; trying HTTP+SSE", zap.Error(fb))
	hc.Close() // no session began: nothing to DELETE
	return lc.Send(ctx, m)
}

// Close ends the session on whichever conn it uses.
func (c *autoConn) Close() {
	c.mu.Lock()
	c.closed = true
	conn := c.conn
	c.mu.Unlock()
	conn.Close()
}

// Listen passes the client's GET streams on to a Streamable HTTP conn
// (Listener); an HTTP+SSE session has one stream anyway.
func (c *autoConn) Listen(on bool) {
	if l, ok := c.current().(upstream.Listener); ok {
		l.Listen(on)
	}
}

// Interface guards.
var (
	_ upstream.Upstream  = (*Auto)(nil)
	_ upstream.Stateless = (*Auto)(nil)
	_ upstream.Conn      = (*autoConn)(nil)
	_ upstream.Listener  = (*autoConn)(nil)
)
