package remote

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// An awaited request (upstream.AwaitedSender) is made on the caller's
// goroutine: written there, and its answer read there too when enough of
// the response is in within inlineWait (ready: all of it, or an SSE
// stream's events so far). That spares the goroutine that would
// make the request, and the two hand-offs between it and the caller, on
// most calls (issue 27). Whatever would make the caller wait longer (a dial,
// a large body, an answer that is slow or streams) goes on as before, on a
// goroutine of its own.

// inlineWait is how long the caller waits for the first bytes of an
// awaited request's response before the rest is left to a goroutine. It
// delays the caller's own timers (the priming hold of the answer, the
// request timeout) by at most that much, and only for a slow answer.
var inlineWait = 20 * time.Millisecond

// inlineMaxBody is the largest request body written on the caller's
// goroutine: a write that size fits in the socket's buffer of a connection
// whose last response was read, so it does not wait for the server.
const inlineMaxBody = 16 << 10

// inlineMore is how long the caller waits for the rest of a response whose
// first bytes came without enough of it (see ready).
var inlineMore = time.Millisecond

// startInline writes req on an idle pooled connection, calling wrote once
// it is written, and leaves x ready to receive its response. started is
// false, with nothing done, when that would mean waiting: no idle
// connection (a dial), a large body, or a request for the transport.
func (c *rawClient) startInline(x *rawCall, req *http.Request, wrote func()) (started, again bool, err error) {
	ctx := req.Context()
	if !c.makes(req) || req.ContentLength > inlineMaxBody || ctx.Err() != nil {
		return false, false, nil
	}
	conn := c.getIdle()
	if conn == nil {
		return false, false, nil
	}
	*x = rawCall{c: c, ctx: ctx, req: req, conn: conn, reused: true}
	again, err = x.send(wrote)
	return true, again, err
}

// getIdle returns an idle connection the server has not closed, or nil.
func (c *rawClient) getIdle() *rawConn {
	for {
		c.mu.Lock()
		if len(c.idle) == 0 {
			c.mu.Unlock()
			return nil
		}
		conn := c.idle[len(c.idle)-1]
		c.idle[len(c.idle)-1] = nil
		c.idle = c.idle[:len(c.idle)-1]
		c.mu.Unlock()
		if c.finishTail(conn) && c.reusable(conn) {
			return conn
		}
		_ = conn.Close()
	}
}

// tailWait bounds reading the rest of a body that a connection was put
// back with: normally the stream's end, which the server sends right after
// the answer. A request on that connection could not be answered before
// the server sent it anyway (HTTP/1.1 answers in order), so the wait costs
// little; a server that has not ended its stream by then loses the
// connection, and for tailPause no connection is put back with a rest.
var tailWait = 10 * time.Millisecond

// tailPause is how long after a rest did not come within tailWait streams
// are drained on a goroutine again instead (see leaveTail).
const tailPause = time.Minute

// tailsOK reports whether a connection may be put back with the rest of
// a body: no rest failed to come within tailPause.
func (c *rawClient) tailsOK() bool {
	t := c.tailMissed.Load()
	return t == 0 || time.Since(time.Unix(0, t)) > tailPause
}

// finishTail reads what is left of the last response on conn, if it was
// put back with some, and reports whether the body ended there.
func (c *rawClient) finishTail(conn *rawConn) bool {
	if conn.tail == nil {
		return true
	}
	tail := conn.tail
	conn.tail = nil
	_ = conn.SetReadDeadline(time.Now().Add(tailWait))
	n, err := io.CopyN(io.Discard, tail, drainLimit+1)
	_ = conn.SetReadDeadline(time.Time{})
	if err != io.EOF || n > drainLimit || conn.br.Buffered() != 0 {
		c.tailMissed.Store(time.Now().UnixNano())
		return false
	}
	return true
}

// ready waits at most d for the first bytes of the response and tells how
// much of it is in the connection's buffer (bufferedResponse): all of it,
// or events so far, can be read without waiting on the server.
func (x *rawCall) ready(d time.Duration) buffered {
	conn := x.conn
	conn.lim.n = x.c.maxHeader
	x.readDeadline(time.Now().Add(d))
	_, err := conn.br.Peek(1)
	got := partOfIt
	if err == nil {
		got = bufferedResponse(peekBuffered(conn.br))
	}
	if err == nil && got == partOfIt {
		// Servers often send the rest of a body in a write of its own
		// right after the first: it is worth a moment more, not a
		// goroutine.
		x.readDeadline(time.Now().Add(inlineMore))
		if _, err = conn.br.Peek(conn.br.Buffered() + 1); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			got = bufferedResponse(peekBuffered(conn.br))
		}
	}
	x.readDeadline(time.Time{})
	return got // partOfIt: a late answer (the deadline) or a failure, which receive tells
}

// readDeadline sets the connection's read deadline, unless the request
// was cancelled: the cancellation's abort (a deadline in the past) may
// have come just before, and must hold.
func (x *rawCall) readDeadline(t time.Time) {
	_ = x.conn.SetReadDeadline(t)
	if x.ctx.Err() != nil {
		x.conn.abort()
	}
}

// peekBuffered returns what br holds, without reading.
func peekBuffered(br *bufio.Reader) []byte {
	b, _ := br.Peek(br.Buffered())
	return b
}
