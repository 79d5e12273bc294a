package remote

import (
	"context"
	"net/http"
)

// inPost is the POST of an exchange begun on its caller's goroutine
// (rawinline.go): written there, and answered there too when enough of the
// response came within inlineWait (rawCall.ready).
type inPost struct {
	req     *http.Request
	cancel  context.CancelCauseFunc
	timer   *headerTimer
	wrote   func()
	call    rawCall
	started bool  // the request was written on call (or failed to be)
	again   bool  // it failed in a way that allows a try on a new connection
	err     error // that failure
}

// sendInline makes the exchange of an awaited request (see
// upstream.AwaitedSender) on the caller's goroutine as far as that goes
// without waiting on the server; what is left goes on on a goroutine of
// its own, as every exchange did before.
func (c *httpConn) sendInline(x *exchange, raw *rawClient) {
	if x.runInline(raw) {
		c.untrack(x)
		<-c.slots
		return
	}
	c.h.goTracked(func() {
		defer func() { c.untrack(x); <-c.slots }()
		x.goOn(raw)
	})
}

// runInline begins the POST on an idle connection and, when what came
// within inlineWait can be read without waiting (rawCall.ready), reads it:
// true when the exchange is over, false when goOn must go on with it.
func (x *exchange) runInline(raw *rawClient) bool {
	c := x.c
	in := &x.in
	in.wrote = func() { x.handoff(nil) }
	req, cancel, xerr := c.request(x.ctx, http.MethodPost, c.h.url, x.m.Raw, "", false, nil)
	if xerr != nil {
		x.answer(nil, xerr)
		x.handoff(nil)
		return true
	}
	in.req, in.cancel = req, cancel
	in.timer = c.h.startHeaderTimer(cancel)
	in.started, in.again, in.err = raw.startInline(&in.call, req, in.wrote)
	if !in.started || in.err != nil {
		return false
	}
	got := in.call.ready(inlineWait)
	if got == partOfIt {
		return false
	}
	resp, again, err := in.call.receive()
	if again {
		in.again, in.err = again, err // a new connection: a dial may wait
		return false
	}
	r, xerr := c.response(req, cancel, in.timer, resp, err)
	if xerr == nil && (r.StatusCode < 200 || r.StatusCode > 299 ||
		(got == eventsSoFar && mediaType(r.Header) != "text/event-stream")) {
		// A failure status may end the session (a 404), whose Receiver
		// may in turn end the client's: not from the client's handler.
		// And only events are read in part here.
		x.later = func() { x.answer(r, nil) }
		return false
	}
	if xerr == nil && got == eventsSoFar {
		setNoWait(r, true)
	}
	x.inline = true
	x.answer(r, xerr)
	x.inline = false
	x.handoff(nil)
	return x.later == nil
}

// goOn is the rest of an exchange that runInline began, on a goroutine
// of its own.
func (x *exchange) goOn(raw *rawClient) {
	defer x.handoff(nil)
	if x.later != nil {
		x.later()
		return
	}
	in := &x.in
	var resp *http.Response
	var again bool
	var err error
	switch {
	case !in.started:
		resp, err = raw.roundTripWrote(in.req, in.wrote)
	case in.err != nil:
		again, err = in.again, in.err
	default:
		resp, again, err = in.call.receive()
	}
	resp, err = raw.orAgain(in.req, in.wrote, resp, again, err)
	x.answer(x.c.response(in.req, in.cancel, in.timer, resp, err))
}

// setNoWait makes the reads of resp's body fail rather than wait for the
// server (rawBody.noWait), or wait again.
func setNoWait(resp *response, on bool) {
	if tl, ok := resp.Body.(tailLeaver); ok {
		tl.setNoWait(on)
	}
}

// leaveTail ends a response stream whose answer came without waiting for
// its end: the connection keeps the rest for its next request
// (rawBody.leaveTail), or the stream is drained on a goroutine of its own.
func (x *exchange) leaveTail(resp *response) {
	if tl, ok := resp.Body.(tailLeaver); ok && tl.leaveTail() {
		return
	}
	x.kept = resp
	x.later = func() {
		setNoWait(resp, false)
		resp.drain()
		resp.close()
	}
}
