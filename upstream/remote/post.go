package remote

import (
	"context"
	"net/http"
	"sync"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// post is what a POST of either session transport (Streamable HTTP's
// exchange, 2024-11-05's sse2024Post) shares with the Send that started it:
// the client message, the context the POST runs under, and Send's result,
// handed over once so that Send can return before the answer is read.
type post struct {
	m      *pipeline.Message
	ctx    context.Context // the conn's (or a child of it), with the client's Authorization
	handed chan error      // Send's result, sent once; nil when Send does not wait
	// written is closed at the handoff, when it is set: the message is on
	// the wire (or failed), so the conn's next message may follow it.
	written chan struct{}
	once    sync.Once
}

// handoff releases Send with its result; only the first call counts.
func (p *post) handoff(err error) {
	p.once.Do(func() {
		if p.handed != nil {
			p.handed <- err
		}
		if p.written != nil {
			close(p.written)
		}
	})
}

// wait is Send's end: the POST's result, or, if ctx ends first, nil for a
// request (it is on its way and will be answered) and ctx's error for
// anything else.
func (p *post) wait(ctx context.Context) error {
	select {
	case err := <-p.handed:
		return err
	case <-ctx.Done():
		if p.m.IsRequest() {
			return nil
		}
		return ctx.Err()
	}
}

// postConn is what fail needs from the conn a POST belongs to.
type postConn struct {
	ctx    context.Context // the conn's: ended when the conn is
	ended  func() error    // Send's error once the conn ended
	logger *zap.Logger
	answer func(*pipeline.Message) // delivers the error response to a request
}

// fail ends the POST with an error: a request is answered with an error
// response carrying its id; for other messages Send returns the error.
func (p *post) fail(c postConn, e *exchangeError) {
	if c.ctx.Err() != nil {
		p.handoff(c.ended()) // the conn ended: nothing is answered any more
		return
	}
	if p.ctx.Err() != nil {
		p.handoff(nil) // the client cancelled the request: nobody waits for it
		return
	}
	if !p.m.IsRequest() {
		c.logger.Debug("sending a message to the upstream failed", zap.String("method", p.m.Method), zap.Error(e))
		p.handoff(e)
		return
	}
	c.logger.Warn("a request to the upstream failed", zap.String("method", p.m.Method),
		zap.ByteString("id", p.m.ID), zap.Error(e))
	// Send returns first: a Receiver that sends from Deliver must not
	// wait for its own delivery.
	p.handoff(nil)
	c.answer(e.response(p.m.ID))
}

// serverAnswer returns the server's own JSON-RPC answer to the request, if
// the body of a failure status holds one: it passes through as is.
func (p *post) serverAnswer(h http.Header, body []byte) *pipeline.Message {
	if !p.m.IsRequest() || mediaType(h) != "application/json" {
		return nil
	}
	msgs, _, err := pipeline.ParseBody(body)
	if err != nil {
		return nil
	}
	for _, m := range msgs {
		if m.IsResponse() && m.IDKey() == p.m.IDKey() {
			return m
		}
	}
	return nil
}
