package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// exchange is one POST: a client message and what the server answers,
// read by one goroutine that ends when the answer is complete.
// Its post's ctx is the conn's, ended early when the client cancels m.
type exchange struct {
	post
	c        *httpConn
	cancel   context.CancelFunc
	answered bool // the response to request m arrived
	status   int  // the upstream's HTTP status, once its headers arrived

	// The state of an exchange begun on its caller's goroutine
	// (httpinline.go).
	inline bool      // on the caller's goroutine now: nothing may wait
	in     inPost    // the POST begun there
	later  func()    // what is left to a goroutine of its own
	kept   *response // the response later goes on reading: not closed yet
}

// run makes the POST and reads the answer.
func (x *exchange) run() {
	defer x.handoff(nil)
	var wrote func()
	if x.m.IsRequest() && !x.probing() {
		wrote = func() { x.handoff(nil) }
	}
	x.answer(x.c.do(x.ctx, http.MethodPost, x.m.Raw, "", wrote))
}

// answer reads what the server answered the POST.
func (x *exchange) answer(resp *response, xerr *exchangeError) {
	c := x.c
	if xerr != nil {
		x.fail(xerr)
		return
	}
	defer func() {
		if x.kept != resp {
			resp.close()
		}
	}()
	switch {
	case resp.StatusCode == http.StatusNotFound && resp.sentSession:
		c.sessionEnded(fmt.Sprintf("%s to a POST", resp.Status))
		x.handoff(c.endedErr())
		return
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		x.failStatus(resp)
		return
	}
	x.status = resp.StatusCode
	if x.probing() {
		c.probe(resp.StatusCode)
	}
	if x.m.Method == "initialize" {
		c.mu.Lock()
		c.sessionID = resp.Header.Get(headerSessionID)
		c.mu.Unlock()
	}
	x.handoff(nil)
	ct := mediaType(resp.Header)
	switch {
	case !x.m.IsRequest():
		// A notification or a response: normally 202 with no body.
		if ct == "text/event-stream" {
			_, _ = c.readEvents(resp.Body, &streamState{}, x.deliver, nil)
		} else {
			_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
		}
	case ct == "text/event-stream":
		x.readStream(resp)
	case ct == "application/json":
		x.readJSON(resp)
	case resp.StatusCode == http.StatusAccepted:
		x.fail(c.badGateway("%s to a request, with no response", resp.Status).withPublic("it answered " + statusText(resp.Response) + " with no response"))
	default:
		x.fail(c.badGateway("%s with unexpected Content-Type %q", resp.Status, resp.Header.Get("Content-Type")).withPublic("it answered with an unexpected Content-Type"))
	}
}

// deliver hands a message of this POST's answer to the Receiver, with the
// request's id as the routing hint.
func (x *exchange) deliver(m *pipeline.Message) {
	if x.m.IsRequest() && m.IsResponse() && m.IDKey() == x.m.IDKey() {
		x.answered = true
		if x.m.Method == "initialize" && m.Result != nil {
			x.c.initialized(m.ResultProtocolVersion())
		}
	}
	x.c.deliver(m, x.m.ID)
}

// initialized records the negotiated revision, sent from now on as
// MCP-Protocol-Version, and lets a waiting GET stream start.
func (c *httpConn) initialized(version string) {
	c.mu.Lock()
	if version != "" {
		c.version = version
	}
	c.mu.Unlock()
	c.readyOnce.Do(func() { close(c.ready) })
}

// fail ends the exchange with an error: a request is answered with an error
// response carrying its id; for other messages Send returns the error.
func (x *exchange) fail(e *exchangeError) {
	c := x.c
	if x.status != 0 {
		// The POST was answered; what failed came later (a cut stream, a
		// refused resume, whose status the message names).
		e.upstreamStatus = x.status
	}
	x.post.fail(postConn{ctx: c.ctx, ended: c.endedErr, logger: c.logger, answer: func(r *pipeline.Message) {
		x.answered = true
		c.deliver(r, x.m.ID)
	}}, e)
}

// failStatus handles a failure status. The server's own JSON-RPC answer
// to the request, if the body holds one, passes through as is.
func (x *exchange) failStatus(resp *response) {
	body, _, _ := readBounded(resp.Body, min(x.c.h.cfg.MaxMessageSize, 64<<10))
	if m := x.serverAnswer(resp.Header, body); m != nil {
		x.c.logger.Debug("the upstream answered a request with a failure status and a JSON-RPC error",
			zap.String("status", resp.Status), zap.ByteString("id", x.m.ID))
		x.handoff(nil)
		x.deliver(m)
		return
	}
	if x.probing() && x.c.probe(resp.StatusCode) {
		x.handoff(&sseFallback{status: resp.Status, detail: bodyDetail(body)})
		return
	}
	x.fail(x.c.statusError(resp.Response, body))
}

// probing reports whether this is the initialize POST that tells an
// Auto conn which transport the server speaks.
func (x *exchange) probing() bool {
	return x.c.probe != nil && x.m.IsRequest() && x.m.Method == "initialize"
}

// readJSON reads an application/json answer: one message (or, from
// 2025-03-26 servers, an array of them).
func (x *exchange) readJSON(resp *response) {
	c := x.c
	msgs, tooLarge, err, perr := readJSONMessages(resp.Body, c.h.cfg.MaxMessageSize)
	switch {
	case tooLarge:
		x.fail(c.badGateway("the response is larger than max_message_size (%d bytes)", c.h.cfg.MaxMessageSize))
		return
	case err != nil:
		x.fail(c.streamError(err, context.Cause(resp.ctx)))
		return
	case perr != nil:
		x.fail(c.badGateway("the response is not JSON-RPC: %v", perr))
		return
	}
	for _, m := range msgs {
		x.deliver(m)
	}
	if !x.answered {
		x.fail(c.badGateway("the JSON response does not answer request %s", x.m.ID))
	}
}

// readStream reads a text/event-stream answer, message by message, until
// the response to the request arrived. A stream that ends before that,
// after an event with an id (2025-11-25 servers may poll this way), is
// resumed with GET and Last-Event-ID, after the server's retry hint or a
// backoff, until the response arrives or resuming stops making progress.
func (x *exchange) readStream(resp *response) {
	x.followStream(resp, &streamState{}, 0)
}

// followStream reads the response stream resp and its resumptions.
func (x *exchange) followStream(resp *response, st *streamState, attempts int) {
	c := x.c
	for {
		progress, err := c.readEvents(resp.Body, st, x.deliver, func() bool { return x.answered })
		if x.inline && !x.answered && errors.Is(err, errWouldWait) {
			// The events so far are read: the rest comes on a
			// goroutine of its own.
			x.streamLater(resp, st, attempts)
			return
		}
		cause := context.Cause(resp.ctx)
		switch {
		case x.answered && x.inline:
			x.leaveTail(resp) // httpinline.go
		case x.answered:
			resp.drain()
		}
		if x.kept != resp {
			resp.close()
		}
		switch {
		case x.answered || x.ctx.Err() != nil:
			return
		case st.tooLarge:
			x.fail(c.badGateway("a message on the response stream exceeded max_message_size (%d bytes) and was dropped", c.h.cfg.MaxMessageSize))
			return
		case st.lastID == "":
			x.fail(c.streamError(err, cause))
			return
		}
		if progress {
			attempts = 0
		}
		if x.inline {
			// Resuming waits (a backoff, a GET): not on the caller's
			// goroutine.
			x.resumeLater(st, attempts, progress)
			return
		}
		if resp = x.resumeStream(st, &attempts, progress); resp == nil {
			return
		}
	}
}

// streamLater leaves reading the rest of resp to x.later, which reads it
// as any goroutine does (waiting for the server).
func (x *exchange) streamLater(resp *response, st *streamState, attempts int) {
	x.kept = resp
	x.later = func() {
		setNoWait(resp, false)
		x.followStream(resp, st, attempts)
	}
}

// resumeLater leaves resuming the stream to x.later. (Its own function, so
// that followStream's variables stay on its stack.)
func (x *exchange) resumeLater(st *streamState, attempts int, progress bool) {
	x.later = func() {
		if resp := x.resumeStream(st, &attempts, progress); resp != nil {
			x.followStream(resp, st, attempts)
		}
	}
}

// resumeStream resumes a response stream that ended before the response,
// after the server's retry hint or a backoff: the next response, or nil
// when the exchange is over (failed, or its conn ended). attempts counts
// the tries since the last progress.
func (x *exchange) resumeStream(st *streamState, attempts *int, progress bool) *response {
	c := x.c
	var last *exchangeError
	for {
		if *attempts++; *attempts > maxResumeAttempts {
			msg := "the response stream ended before the response, and resuming it made no progress"
			public := msg
			if last != nil {
				msg += ": " + last.msg
			}
			x.fail(c.badGateway("%s", msg).withPublic(public))
			return nil
		}
		if !sleep(x.ctx, reconnectDelay(&st.backoff, st.retry, progress)) {
			return nil
		}
		progress = false
		c.h.reconnected(ReconnectResume)
		r, xerr := c.do(x.ctx, http.MethodGet, nil, st.lastID, nil)
		if xerr != nil {
			last = xerr
			continue
		}
		switch {
		case r.StatusCode == http.StatusNotFound && r.sentSession:
			r.close()
			c.sessionEnded(fmt.Sprintf("%s to a GET resuming a response stream", r.Status))
			return nil
		case r.StatusCode >= 200 && r.StatusCode <= 299 && mediaType(r.Header) == "text/event-stream":
			return r
		default:
			body, _, _ := readBounded(r.Body, 4<<10)
			r.close()
			last = c.statusError(r.Response, body)
			if !retryable(r.StatusCode) {
				last.msg = "resuming the response stream failed: " + last.msg
				last.public = "resuming the response stream failed: " + last.public
				x.fail(last)
				return nil
			}
		}
	}
}
