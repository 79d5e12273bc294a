package remote

import (
	"errors"
	"fmt"
	"net/http"
)

// sse2024Post is one POST of a client message to an HTTP+SSE session's
// message endpoint, run by a goroutine of its own. The server's answer to a
// request comes on the SSE stream; the POST itself only says accepted.
type sse2024Post struct {
	post
	c *sse2024Conn
}

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
	if m := x.serverAnswer(resp.Header, body); m != nil {
		x.handoff(nil)
		c.deliver(m)
		return
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
	x.post.fail(postConn{ctx: c.ctx, ended: c.endedErr, logger: c.logger, answer: c.deliver}, e)
}
