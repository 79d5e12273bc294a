package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// Header names of the Streamable HTTP transport.
const (
	headerSessionID       = "Mcp-Session-Id"
	headerProtocolVersion = "Mcp-Protocol-Version"
	headerLastEventID     = "Last-Event-Id"
)

var (
	// errNoHeaders is the cause of a request cancelled because its response
	// headers took longer than ResponseHeaderTimeout.
	errNoHeaders = errors.New("no response headers in time")
	// errIdle is the cause of a stream cancelled after IdleTimeout of silence.
	errIdle = errors.New("stream idle")
	// errSessionGone is returned by Send when the upstream ended the session.
	errSessionGone = errors.New("the upstream MCP server ended the session")
)

// drainTimeout bounds the wait for the end of a response stream after the
// response arrived.
const drainTimeout = 100 * time.Millisecond

// httpConn is one client session's upstream session over Streamable HTTP.
// Every POST runs in a goroutine of its own that reads the response as it
// arrives, except what an awaited request does on its caller's goroutine
// (httpinline.go); the GET stream runs only while the client listens.
type httpConn struct {
	h       *HTTP
	recv    upstream.Receiver
	related upstream.RelatedReceiver // recv, if it takes routing hints
	headers http.Header              // configured headers, evaluated in Open
	logger  *zap.Logger

	ctx    context.Context // ends with the conn: cancels every request
	cancel context.CancelFunc
	slots  chan struct{} // one per POST in flight

	// deliverMu serializes calls into the Receiver, so it sees one call at
	// a time, and none after quiet is set. quiet is also set without the
	// lock by Close, which the Receiver may call from Closed.
	deliverMu sync.Mutex
	quiet     atomic.Bool

	closeOnce sync.Once
	ready     chan struct{} // closed when the initialize response arrived
	readyOnce sync.Once

	mu        sync.Mutex
	inflight  map[string]*exchange // requests' POSTs, by id, to abort on a cancellation
	sessionID string               // the upstream's Mcp-Session-Id; never leaves this conn
	version   string               // negotiated protocol revision
	gone      bool                 // the upstream ended the session (404)
	lastAuth  string               // the latest client Authorization (PassAuthorization)
	haveAuth  bool                 // lastAuth was set
	// lastWritten is closed once the last request Send handed over
	// without waiting is on the wire: the next message's POST waits for it.
	lastWritten chan struct{}
	// sidHeader and versionHeader are sessionHeaders' values, shared by
	// the requests that carry them.
	sidHeader, versionHeader []string

	get getStream

	// probe is set on an Auto conn that does not know yet which
	// transport the server speaks. The initialize POST then hands off only
	// once its status arrived, and probe is told that status: a 2xx, or a
	// failure status without a JSON-RPC answer, for which probe returning
	// true means "an HTTP+SSE server": Send returns a *sseFallback and
	// the request is not answered.
	probe func(status int) bool
}

func newHTTPConn(h *HTTP, r upstream.Receiver, hdr http.Header) *httpConn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &httpConn{
		h:       h,
		recv:    r,
		headers: hdr,
		logger:  h.logger,
		ctx:     ctx,
		cancel:  cancel,
		slots:   make(chan struct{}, h.cfg.MaxInFlight),
		ready:   make(chan struct{}),
	}
	c.related, _ = r.(upstream.RelatedReceiver)
	return c
}

// track registers a request's exchange, to abort on a cancellation;
// untrack forgets it (only its own entry: the client may reuse the id once
// the request was answered, while this exchange still drains).
func (c *httpConn) track(x *exchange) {
	c.mu.Lock()
	if c.inflight == nil {
		c.inflight = make(map[string]*exchange)
	}
	c.inflight[x.m.IDKey()] = x
	c.mu.Unlock()
}

func (c *httpConn) untrack(x *exchange) {
	x.cancel()
	c.mu.Lock()
	if c.inflight[x.m.IDKey()] == x {
		delete(c.inflight, x.m.IDKey())
	}
	c.mu.Unlock()
}

// abort ends the POST of request id, if it is still in flight.
func (c *httpConn) abort(id json.RawMessage) {
	if id == nil {
		return
	}
	c.mu.Lock()
	x := c.inflight[string(id)]
	c.mu.Unlock()
	if x != nil {
		x.cancel()
	}
}

// Send POSTs m to the server, byte for byte. It waits for a free slot (at
// most MaxInFlight POSTs per session), then hands m to a goroutine that
// makes the request and reads the response as it arrives.
//
// For a request, Send returns as soon as the POST is handed over (the
// initialize of a probing conn: once its status arrived); from then on the
// request is always answered through the Receiver, by the server or by an
// error response with its id (see GatewayError) when the exchange fails,
// unless the conn ends first (Close, or Closed when the server answers 404
// to our session id: then everything in flight is the Receiver's to
// answer). For a notification or a response, Send returns once the server
// accepted it (202), or the error. A Send that returns an error sent
// nothing that will be answered. The server gets the messages in the order
// of their Sends: a message's POST starts once the previous request's POST
// is on the wire. ctx bounds only the waits: the request itself lives
// until it is answered or the conn closes, since a 2025 client that
// disconnects has not cancelled. An awaited request (SendAwaited) on a
// plain http:// upstream is written on the caller's goroutine, and
// answered before Send returns when enough of its response comes within
// inlineWait (httpinline.go).
func (c *httpConn) Send(ctx context.Context, m *pipeline.Message) error {
	return c.send(ctx, m, false)
}

// SendAwaited is Send for an awaited request (upstream.AwaitedSender).
func (c *httpConn) SendAwaited(ctx context.Context, m *pipeline.Message) error {
	return c.send(ctx, m, true)
}

func (c *httpConn) send(ctx context.Context, m *pipeline.Message, awaited bool) error {
	if c.ctx.Err() != nil {
		return c.endedErr()
	}
	// Only requests hold a slot until answered: a notification or a
	// response (the client's answer to a sampling request, a cancellation)
	// must get through even while every slot waits on the server.
	if m.IsRequest() {
		select {
		case c.slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.ctx.Done():
			return c.endedErr()
		}
	}
	x := &exchange{post: post{m: m, ctx: c.ctx}, c: c}
	// A request does not wait for its write (a goroutine switch and a
	// wake-up per call, issue 27): the next message waits for it instead.
	early := m.IsRequest() && !x.probing()
	if early {
		x.written = make(chan struct{})
	} else {
		x.handed = make(chan error, 1)
	}
	if err := c.follow(ctx, x.written); err != nil {
		if m.IsRequest() {
			<-c.slots
		}
		return err
	}
	if m.IsRequest() {
		x.ctx, x.cancel = context.WithCancel(c.ctx)
		c.track(x)
	}
	x.ctx = c.carryAuthorization(ctx, x.ctx)
	x.ctx = upstream.WithTraceHeader(x.ctx, upstream.TraceHeader(ctx))
	if raw, ok := c.h.rt.(*rawClient); ok && early && awaited {
		c.sendInline(x, raw) // httpinline.go
		return nil
	}
	c.h.goTracked(func() {
		if m.IsRequest() {
			defer func() { c.untrack(x); <-c.slots }()
		}
		x.run()
	})
	if m.Method == "notifications/cancelled" {
		// The server has the cancellation: abort the cancelled request's
		// POST too, so a server that keeps its stream open cannot hold the
		// session's slot (and the client's answer) forever.
		defer c.abort(m.CancelledRequestID())
	}
	if early {
		return nil
	}
	return x.wait(ctx)
}

// follow waits until the last request handed over without waiting is on
// the wire (or failed), so that the next message cannot overtake it, and
// makes written, if set, the one the next message waits for. The two
// happen under one lock, so that concurrent Sends form one chain: each
// written closes only after the one before it.
func (c *httpConn) follow(ctx context.Context, written chan struct{}) error {
	c.mu.Lock()
	prev := c.lastWritten
	if written != nil {
		c.lastWritten = written
	}
	c.mu.Unlock()
	if prev == nil {
		return nil
	}
	var err error
	select {
	case <-prev:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-c.ctx.Done():
		err = c.endedErr()
	}
	if written != nil {
		// Nothing is sent for this Send, but a later one may wait for
		// written already: it is done once prev is.
		c.h.goTracked(func() {
			select {
			case <-prev:
			case <-c.ctx.Done():
			}
			close(written)
		})
	}
	return err
}

// endedErr is Send's error once the conn ended.
func (c *httpConn) endedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return fmt.Errorf("%w: %w", upstream.ErrClosed, errSessionGone)
	}
	return upstream.ErrClosed
}

// Close ends the conn: requests and streams in flight are cancelled, the
// Receiver hears nothing more, and the upstream session is ended with a
// DELETE in the background (bounded by a short timeout; Wait waits for it).
func (c *httpConn) Close() { c.close(true) }

// close is Close; end false leaves the upstream session alive (Detach).
func (c *httpConn) close(end bool) {
	c.closeOnce.Do(func() {
		c.quiet.Store(true)
		c.cancel()
		c.get.stop()
		c.mu.Lock()
		sid, gone := c.sessionID, c.gone
		c.mu.Unlock()
		if sid == "" || gone || !end {
			return
		}
		c.h.goTracked(func() { c.deleteSession() })
	})
}

// deleteSession tells the server that the session is over.
func (c *httpConn) deleteSession() {
	ctx, cancel := context.WithTimeout(context.Background(), deleteTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.h.url, nil)
	if err != nil {
		return
	}
	c.setHeaders(req, "")
	resp, err := c.h.client.Do(req)
	if err != nil {
		c.logger.Debug("ending the upstream session failed", zap.Error(err))
		return
	}
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	_ = resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusMethodNotAllowed && resp.StatusCode != http.StatusNotFound {
		c.logger.Debug("the upstream refused to end the session", zap.String("status", resp.Status))
	}
}

// sessionEnded handles the server's end of the session (a 404 to a request
// that carried our session id): everything stops and the Receiver hears
// Closed, once, after any delivery in progress.
func (c *httpConn) sessionEnded(cause string) {
	c.mu.Lock()
	first := !c.gone
	c.gone = true
	c.mu.Unlock()
	if !first {
		return
	}
	c.logger.Info("the upstream MCP server ended the session", zap.String("cause", cause))
	c.cancel()
	c.get.stop()
	c.deliverMu.Lock()
	defer c.deliverMu.Unlock()
	if !c.quiet.Swap(true) {
		c.recv.Closed(errors.New("upstream MCP server " + c.h.name + " ended the session (" + cause + ")"))
	}
}

// deliver hands m to the Receiver; related is the client request id of the
// stream it came on (nil for the GET stream).
func (c *httpConn) deliver(m *pipeline.Message, related json.RawMessage) {
	c.deliverMu.Lock()
	defer c.deliverMu.Unlock()
	if c.quiet.Load() || c.ctx.Err() != nil {
		return
	}
	if related != nil && c.related != nil {
		c.related.DeliverRelated(m, related)
		return
	}
	c.recv.Deliver(m)
}

// The values of the transport's constant headers.
var (
	contentTypeJSON = []string{"application/json"}
	acceptPost      = []string{"application/json, text/event-stream"}
	acceptGet       = []string{"text/event-stream"}
)

// sessionHeaders returns the values of the Mcp-Session-Id and
// MCP-Protocol-Version headers (nil: not sent), made once per value
// rather than once per request.
func (c *httpConn) sessionHeaders() (sid, version []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessionID != "" {
		if len(c.sidHeader) == 0 || c.sidHeader[0] != c.sessionID {
			c.sidHeader = []string{c.sessionID}
		}
		sid = c.sidHeader
	}
	if c.version != "" {
		if len(c.versionHeader) == 0 || c.versionHeader[0] != c.version {
			c.versionHeader = []string{c.version}
		}
		version = c.versionHeader
	}
	return sid, version
}

// setHeaders sets the headers of a request to the server: the configured
// ones, then the transport's own, which no configured header can replace.
func (c *httpConn) setHeaders(req *http.Request, lastEventID string) {
	for k, v := range c.headers {
		switch k = http.CanonicalHeaderKey(k); k {
		case "Host":
			if len(v) > 0 {
				req.Host = v[0]
			}
		case headerSessionID, headerProtocolVersion, headerLastEventID, "Content-Type", "Accept":
		default:
			req.Header[k] = v
		}
	}
	if auth, ok := c.authorizationFor(req.Context()); ok {
		req.Header.Set("Authorization", auth)
	}
	for k, v := range upstream.TraceHeader(req.Context()) {
		req.Header[k] = v // the exchange's traceparent, when traced
	}
	// Shared values: a transport only reads a request's headers.
	switch req.Method {
	case http.MethodPost:
		req.Header["Content-Type"] = contentTypeJSON
		req.Header["Accept"] = acceptPost
	case http.MethodGet:
		req.Header["Accept"] = acceptGet
	}
	sid, version := c.sessionHeaders()
	if sid != nil {
		req.Header[headerSessionID] = sid
	}
	if version != nil {
		req.Header[headerProtocolVersion] = version
	}
	if lastEventID != "" {
		req.Header.Set(headerLastEventID, lastEventID)
	}
}

// do makes one request to the server, cancelled with parent (the conn's
// context or a narrower one). It waits for the response headers at
// most ResponseHeaderTimeout; with IdleTimeout set, a response body that
// stays silent that long is cut. wrote, if set, is called once the request
// is on the wire (through httptrace: a RoundTripper that does not report it
// makes Send wait for the response headers instead).
func (c *httpConn) do(parent context.Context, method string, body []byte, lastEventID string, wrote func()) (*response, *exchangeError) {
	return c.doURL(parent, method, c.h.url, body, lastEventID, wrote)
}

// doURL is do with another target than the upstream's URL (the message
// endpoint of an HTTP+SSE session).
func (c *httpConn) doURL(parent context.Context, method, target string, body []byte, lastEventID string, wrote func()) (*response, *exchangeError) {
	raw, _ := c.h.rt.(*rawClient)
	req, cancel, xerr := c.request(parent, method, target, body, lastEventID, wrote != nil && raw == nil, wrote)
	if xerr != nil {
		return nil, xerr
	}
	timer := c.h.startHeaderTimer(cancel)
	var resp *http.Response
	var err error
	if raw != nil {
		resp, err = raw.roundTripWrote(req, wrote) // the write reported without a trace
	} else {
		resp, err = c.h.rt.RoundTrip(req) // what client.Do would do: it follows no redirect
	}
	return c.response(req, cancel, timer, resp, err)
}

// request makes a request to the server, cancelled with parent or with
// cancel; traced, it reports its write to wrote through httptrace.
func (c *httpConn) request(parent context.Context, method, target string, body []byte, lastEventID string, traced bool, wrote func()) (*http.Request, context.CancelCauseFunc, *exchangeError) {
	ctx, cancel := context.WithCancelCause(parent)
	if traced {
		ctx = withWroteTrace(ctx, wrote)
	}
	req, err := c.h.newRequest(ctx, method, target, body)
	if err != nil {
		cancel(nil)
		return nil, nil, c.badGateway("%v", err)
	}
	c.setHeaders(req, lastEventID)
	return req, cancel, nil
}

// response is the end of a round trip: the header timer stopped, and
// the response, with an idle timer on its body when IdleTimeout is set.
func (c *httpConn) response(req *http.Request, cancel context.CancelCauseFunc, timer *headerTimer, resp *http.Response, err error) (*response, *exchangeError) {
	if !c.h.stopHeaderTimer(timer) && err == nil {
		// The timer fired as the headers arrived: the body is cancelled.
		_ = resp.Body.Close()
		err = errNoHeaders
	}
	if err != nil {
		cancel(nil)
		return nil, c.transportError(req.Context(), err)
	}
	r := &response{Response: resp, sentSession: req.Header.Get(headerSessionID) != "", ctx: req.Context(), cancel: cancel}
	if d := c.h.cfg.IdleTimeout; d > 0 {
		r.idle = time.AfterFunc(d, func() { cancel(errIdle) })
		r.Body = &idleBody{ReadCloser: resp.Body, timer: r.idle, d: d}
	}
	return r, nil
}

// readBounded reads a non-streaming body of at most limit bytes; longer
// reports false.
func readBounded(r io.Reader, limit int) ([]byte, bool, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if len(b) > limit {
		return b[:limit], false, err
	}
	return b, true, err
}
