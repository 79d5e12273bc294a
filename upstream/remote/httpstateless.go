package remote

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// Mirrored request headers of the 2026-07-28 revision, besides
// MCP-Protocol-Version: the server checks them against the body.
const (
	mirroredMethod      = "Mcp-Method"
	mirroredName        = "Mcp-Name"
	mirroredParamPrefix = "Mcp-Param-"
)

// isMirroredHeader reports whether the canonical header key k is one of the
// client's headers a 2026-07-28 request carries to the server, apart from
// MCP-Protocol-Version (sent as the revision, like a session's).
func isMirroredHeader(k string) bool {
	return k == mirroredMethod || k == mirroredName || strings.HasPrefix(k, mirroredParamPrefix)
}

// Call forwards one 2026-07-28 request (Stateless): a POST of the message,
// byte for byte, with no session id and no Last-Event-ID, carrying the
// client's MCP-Protocol-Version, Mcp-Method, Mcp-Name and Mcp-Param-*
// headers from req.Header (nothing else of the client's), the configured
// Headers, evaluated with ctx on every call (there is no session to
// evaluate them once for; the function must be safe for concurrent use),
// and the transport's Content-Type and Accept. It uses the upstream's one
// transport, so connections are reused across calls and sessions.
//
// deliver is called on Call's goroutine, in order, and never after Call
// returned; a deliver that blocks holds up the reading of the answer.
//
// Contract for failures (unlike what the Stateless interface allows, this
// upstream does not return them as errors, so the caller has a single path):
//
//   - The server's answer passes through: every notification of a
//     text/event-stream answer as it arrives, then the response to the
//     request, each with the answer's status (200); an application/json
//     answer's response with its status, also a 4xx or 5xx whose body is the
//     server's JSON-RPC error (400 -32020/-32022, 404 -32601, …: never made
//     a 502). An error response with a null id answers the request too (a
//     server that could not read the id). Server requests and responses to
//     other ids on the stream are dropped (2026 servers send neither). A
//     notifications/cancelled naming the request ends the call like a
//     response (2026 listen streams may end that way).
//   - When the exchange fails before the response (connection error, no
//     headers within ResponseHeaderTimeout, a failure status without a
//     JSON-RPC answer, a redirect, a 202 or an unexpected Content-Type, a
//     stream that ends or breaks or idles out, a message larger than
//     MaxMessageSize), Call delivers an error response it made up, with the
//     request's id, the message of the legacy path ("upstream MCP server
//     <url>: <cause>") and GatewayError data, and returns nil. Its status
//     is GatewayStatus of that message (502, or 504 for timeouts) when the
//     server gave no usable answer, and 200 when the server had answered 2xx
//     and failed later (so the client keeps the 200 it may already have).
//   - Call returns an error only for a notification (there is no id to
//     answer: a failure is returned, naming the upstream and the cause; a
//     4xx or 5xx with a JSON-RPC error body is delivered with its status
//     instead; a 2xx delivers nothing), for a malformed call, and ctx.Err().
//
// When ctx ends (the client went away: for 2026 clients that is the
// cancellation), the upstream HTTP request is aborted at once, nothing more
// is delivered, and Call returns ctx.Err() — also for subscriptions/listen,
// whose notifications are delivered until then or until the server ends
// the stream with a response. Call starts no goroutine of its own.
func (h *HTTP) Call(ctx context.Context, req *upstream.StatelessRequest, deliver func(m *pipeline.Message, status int)) error {
	if req == nil || req.Message == nil || deliver == nil {
		return errors.New("upstream: Call needs a request message and a deliver function")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m, traceHeader, end := upstream.TraceExchange(ctx, h.peer, req.Message)
	x := &httpStatelessCall{c: h.statelessConn(ctx, req.Header, m), ctx: ctx, m: m, deliver: deliver}
	if end == nil {
		return x.run()
	}
	for k, v := range traceHeader {
		x.c.headers[k] = v
	}
	var answer *pipeline.Message
	x.deliver = func(m *pipeline.Message, status int) {
		if m.IsResponse() {
			answer = m
		}
		deliver(m, status)
	}
	err := x.run()
	end(answer, err)
	return err
}

// statelessConn returns an httpConn for the request machinery of one
// stateless call (do, setHeaders, readEvents and the error wording): it
// has no session id, its revision is the client's MCP-Protocol-Version (so
// setHeaders sends it as a session's), and its headers are the configured
// ones, evaluated with ctx, plus the client's mirrored ones, which the
// configured ones cannot replace, with Mcp-Name following m's body
// (mirroredNameFor). It has no context, receiver or slots: nothing but
// those helpers may use it.
func (h *HTTP) statelessConn(ctx context.Context, client http.Header, m *pipeline.Message) *httpConn {
	hdr := make(http.Header)
	if h.headers != nil {
		for k, v := range h.headers(ctx) {
			if k = http.CanonicalHeaderKey(k); !isMirroredHeader(k) {
				hdr[k] = slices.Clone(v)
			}
		}
	}
	var version string
	for k, v := range client {
		switch k = http.CanonicalHeaderKey(k); {
		case k == headerProtocolVersion && len(v) > 0:
			version = v[0]
		case isMirroredHeader(k):
			hdr[k] = slices.Clone(v)
		}
	}
	if name := mirroredNameFor(m, hdr.Get(mirroredName)); name != "" {
		hdr.Set(mirroredName, name)
	}
	return &httpConn{h: h, headers: hdr, logger: h.logger, version: version}
}

// httpStatelessCall is one Call: a POST and the server's answer, read on the
// caller's goroutine.
type httpStatelessCall struct {
	c       *httpConn
	ctx     context.Context
	m       *pipeline.Message
	deliver func(m *pipeline.Message, status int)
	status  int  // the server's 2xx status, once its headers arrived
	done    bool // the response (or the server's cancellation) arrived
}

// run makes the POST and reads the answer.
func (x *httpStatelessCall) run() error {
	c := x.c
	resp, xerr := c.do(x.ctx, http.MethodPost, x.m.Raw, "", nil)
	if xerr != nil {
		return x.fail(xerr)
	}
	defer resp.close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return x.failStatus(resp)
	}
	x.status = resp.StatusCode
	ct := mediaType(resp.Header)
	switch {
	case !x.m.IsRequest():
		// A notification: normally 202 with no body. Whatever else comes
		// is read briefly, for the connection's sake, and dropped.
		resp.drain()
		return nil
	case ct == "text/event-stream":
		return x.readStream(resp)
	case ct == "application/json":
		return x.readJSON(resp)
	case resp.StatusCode == http.StatusAccepted:
		return x.fail(c.badGateway("%s to a request, with no response", resp.Status).withPublic("it answered " + statusText(resp.Response) + " with no response"))
	default:
		return x.fail(c.badGateway("%s with unexpected Content-Type %q", resp.Status, resp.Header.Get("Content-Type")).withPublic("it answered with an unexpected Content-Type"))
	}
}

// answers reports whether m is the server's response to the request.
func (x *httpStatelessCall) answers(m *pipeline.Message) bool {
	return m.IsResponse() && (m.IDKey() == x.m.IDKey() || (string(m.ID) == "null" && m.Error != nil))
}

// forward delivers one message of the answer with the answer's status:
// notifications, then the response, which ends the call.
func (x *httpStatelessCall) forward(m *pipeline.Message) {
	switch {
	case x.done || x.ctx.Err() != nil:
		return // the call is over, or the client gone: nothing more
	case x.answers(m):
		x.done = true
	case m.IsNotification():
		if m.Method == "notifications/cancelled" && x.m.IsRequest() && string(m.CancelledRequestID()) == x.m.IDKey() {
			x.done = true
		}
	default:
		x.c.logger.Debug("dropped a message a 2026-07-28 server must not send on a response stream",
			zap.String("kind", m.Kind.String()), zap.String("method", m.Method), zap.ByteString("id", m.ID),
			zap.ByteString("request_id", x.m.ID))
		return
	}
	x.deliver(m, x.status)
}

// fail ends the call without the server's response: a request gets a
// made-up error response, a notification's failure is returned.
func (x *httpStatelessCall) fail(e *exchangeError) error {
	if err := x.ctx.Err(); err != nil {
		return err
	}
	if x.status != 0 {
		e.upstreamStatus = x.status
	}
	if !x.m.IsRequest() {
		x.c.logger.Debug("sending a 2026-07-28 notification to the upstream failed",
			zap.String("method", x.m.Method), zap.Error(e))
		return e
	}
	x.c.logger.Warn("a 2026-07-28 request to the upstream failed", zap.String("method", x.m.Method),
		zap.ByteString("id", x.m.ID), zap.Error(e))
	r := e.response(x.m.ID)
	status := upstream.GatewayStatus(r)
	if status == 0 {
		status = http.StatusOK
	}
	x.done = true
	x.deliver(r, status)
	return nil
}

// failStatus handles a failure status: the server's own JSON-RPC error
// passes through with that status; anything else is made up.
func (x *httpStatelessCall) failStatus(resp *response) error {
	body, _, _ := readBounded(resp.Body, min(x.c.h.cfg.MaxMessageSize, 64<<10))
	if err := x.ctx.Err(); err != nil {
		return err
	}
	if mediaType(resp.Header) == "application/json" {
		if msgs, _, err := pipeline.ParseBody(body); err == nil {
			for _, m := range msgs {
				if x.answers(m) || (!x.m.IsRequest() && m.IsResponse() && m.Error != nil) {
					x.c.logger.Debug("the upstream refused a 2026-07-28 message with a JSON-RPC error",
						zap.String("status", resp.Status), zap.String("method", x.m.Method), zap.ByteString("id", x.m.ID))
					x.done = true
					x.deliver(m, resp.StatusCode)
					return nil
				}
			}
		}
	}
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed:
		// A modern server refuses with a JSON-RPC error; a bare 400, 404
		// or 405 is how a server of the 2025 revisions answers a stateless
		// request (docs/transports.md, "Telling the eras apart"): the
		// client must fall back.
		x.c.logger.Debug("the upstream answered a 2026-07-28 request as a legacy-only server",
			zap.String("status", resp.Status), zap.String("method", x.m.Method))
		return upstream.ErrSessionfulOnly
	}
	return x.fail(x.c.statusError(resp.Response, body))
}

// readJSON reads an application/json answer.
func (x *httpStatelessCall) readJSON(resp *response) error {
	c := x.c
	body, ok, err := readBounded(resp.Body, c.h.cfg.MaxMessageSize)
	switch {
	case x.ctx.Err() != nil:
		return x.ctx.Err()
	case !ok:
		return x.fail(c.badGateway("the response is larger than max_message_size (%d bytes)", c.h.cfg.MaxMessageSize))
	case err != nil:
		return x.fail(c.streamError(err, context.Cause(resp.ctx)))
	}
	msgs, _, err := pipeline.ParseBody(body)
	if err != nil {
		return x.fail(c.badGateway("the response is not JSON-RPC: %v", err))
	}
	for _, m := range msgs {
		x.forward(m)
	}
	if !x.done {
		return x.fail(c.badGateway("the JSON response does not answer request %s", x.m.ID))
	}
	return nil
}

// readStream reads a text/event-stream answer as it arrives, until the
// response. A 2026 stream has no event ids and is never resumed: one that
// ends before the response fails the call.
func (x *httpStatelessCall) readStream(resp *response) error {
	c := x.c
	st := &streamState{}
	_, err := c.readEvents(resp.Body, st, x.forward, func() bool { return x.done })
	switch {
	case x.done:
		resp.drain()
		return nil
	case x.ctx.Err() != nil:
		return x.ctx.Err()
	case st.tooLarge:
		return x.fail(c.badGateway("a message on the response stream exceeded max_message_size (%d bytes) and was dropped", c.h.cfg.MaxMessageSize))
	default:
		return x.fail(c.streamError(err, context.Cause(resp.ctx)))
	}
}

// Interface guard.
var _ upstream.Stateless = (*HTTP)(nil)
