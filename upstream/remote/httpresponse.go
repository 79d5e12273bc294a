package remote

import (
	"context"
	"io"
	"net/http"
	"time"
)

// response is a response from the server whose body is being read; close
// releases it.
type response struct {
	*http.Response
	sentSession bool // the request carried our upstream session id
	ctx         context.Context
	cancel      context.CancelCauseFunc
	idle        *time.Timer
}

// drain reads what is left of the body, briefly, so that the connection
// can be reused: a server closes a response stream right after the response,
// and a body closed before its end costs the connection.
// A body of the raw client is bounded by a deadline on its connection,
// any other by cancelling the request.
func (r *response) drain() {
	if b, ok := r.Body.(readBounder); !ok || !b.boundReads(time.Now().Add(drainTimeout)) {
		t := time.AfterFunc(drainTimeout, func() { r.cancel(nil) })
		defer t.Stop()
	}
	_, _ = io.CopyN(io.Discard, r.Body, drainLimit)
}

// drainLimit is the most of a body drain reads for the connection's sake.
const drainLimit = 64 << 10

// tailLeaver is a response body that can end without being read to its
// end, its connection kept (rawBody.leaveTail).
type tailLeaver interface {
	leaveTail() bool
	setNoWait(bool)
}

// readBounder is a response body whose reads may be made to fail after a
// time without a timer of the caller's: boundReads reports whether they
// will.
type readBounder interface {
	boundReads(t time.Time) bool
}

func (r *response) close() {
	if r.idle != nil {
		r.idle.Stop()
	}
	_ = r.Body.Close()
	r.cancel(nil)
}

// idleBody restarts the idle timer whenever bytes arrive.
type idleBody struct {
	io.ReadCloser
	timer *time.Timer
	d     time.Duration
}

// boundReads bounds the reads of the body under it, if that can be
// bounded; the idle timer keeps running meanwhile.
func (b *idleBody) boundReads(t time.Time) bool {
	rb, ok := b.ReadCloser.(readBounder)
	return ok && rb.boundReads(t)
}

func (b *idleBody) leaveTail() bool {
	tl, ok := b.ReadCloser.(tailLeaver)
	return ok && tl.leaveTail()
}

func (b *idleBody) setNoWait(on bool) {
	if tl, ok := b.ReadCloser.(tailLeaver); ok {
		tl.setNoWait(on)
	}
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.timer.Reset(b.d)
	}
	return n, err
}
