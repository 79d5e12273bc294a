package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// sse2024Post is one POST of a client message to an HTTP+SSE session's
// message endpoint, run by a goroutine of its own. The server's answer to a
// request comes on the SSE stream; the POST itself only says accepted.
type sse2024Post struct {
	c      *sse2024Conn
	m      *pipeline.Message
	ctx    context.Context // the conn's, with the client's Authorization
	handed chan error      // Send's result, sent once
	once   sync.Once
}

// handoff releases Send with its result; only the first call counts.
func (x *sse2024Post) handoff(err error) { x.once.Do(func() { x.handed <- err }) }

// run waits for the endpoint, then makes the POST.
func (x *sse2024Post) run() {
	c := x.c
	defer x.handoff(nil)
	select {
	case <-c.ready:
	case <-c.ctx.Done():
		x.handoff(c.endedErr())
		return
	}
	if c.startErr != nil {
		e := *c.startErr // shared by every POST of the conn
		x.fail(&e)
		return
	}
	resp, xerr := c.hc.doURL(x.ctx, http.MethodPost, c.endpoint, x.m.Raw, "", nil)
	if xerr != nil {
		x.fail(xerr)
		return
	}
	defer resp.close()
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		x.handoff(nil)
		resp.drain() // "Accepted" or nothing; read for the connection's sake
		return
	}
	body, _, _ := readBounded(resp.Body, min(c.h.cfg.MaxMessageSize, 64<<10))
	if x.m.IsRequest() && mediaType(resp.Header) == "application/json" {
		// The server's own JSON-RPC answer to the request passes through.
		if msgs, _, err := pipeline.ParseBody(body); err == nil {
			for _, m := range msgs {
				if m.IsResponse() && m.IDKey() == x.m.IDKey() {
					x.handoff(nil)
					c.deliver(m)
					return
				}
			}
		}
	}
	e := c.hc.statusError(resp.Response, body)
	if resp.StatusCode != http.StatusNotFound {
		e.msg = "the POST to the message endpoint was answered " + e.msg
		x.fail(e)
		return
	}
	// The server no longer knows the session (it ended, or restarted):
	// nothing more can be sent on it.
	e.msg = fmt.Sprintf("the POST to the message endpoint was answered %s: the server no longer knows the session", resp.Status)
	if detail := bodyDetail(body); detail != "" {
		e.msg += " (" + detail + ")"
	}
	x.fail(e)
	c.sessionEnded(errors.New(e.Error()))
}

// fail ends the POST with an error: a request is answered with an error
// response carrying its id; for other messages Send returns the error.
func (x *sse2024Post) fail(e *exchangeError) {
	c := x.c
	if c.ctx.Err() != nil {
		x.handoff(c.endedErr()) // the conn ended: nothing is answered any more
		return
	}
	if !x.m.IsRequest() {
		c.logger.Debug("sending a message to the upstream failed", zap.String("method", x.m.Method), zap.Error(e))
		x.handoff(e)
		return
	}
	c.logger.Warn("a request to the upstream failed", zap.String("method", x.m.Method),
		zap.ByteString("id", x.m.ID), zap.Error(e))
	// Send returns first: a Receiver that sends from Deliver must not
	// wait for its own delivery.
	x.handoff(nil)
	c.deliver(e.response(x.m.ID))
}
