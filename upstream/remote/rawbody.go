package remote

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"
)

// rawBody is a response body read from a pooled connection: read to its
// end, the connection goes back to the pool; closed before, it is closed.
// Close may come from another goroutine while a Read waits: closing the
// connection ends that Read.
type rawBody struct {
	body  io.ReadCloser
	c     *rawClient
	conn  *rawConn
	stop  func() bool // stops the request's cancellation
	ctx   context.Context
	reuse bool // the response did not say Connection: close

	mu       sync.Mutex
	done     bool
	err      error // what Read returns once done
	deadline bool  // boundReads set a read deadline on the connection

	// noWait makes Read fail with errWouldWait rather than read the
	// connection: set while the body is read on the caller's goroutine,
	// where all of it that can be read is in the buffer (rawinline.go).
	noWait bool
}

// errWouldWait is a read of a body that would have waited for the server.
var errWouldWait = errors.New("reading the response would wait for the server")

// boundReads makes the body's reads fail once t has passed, with a read
// deadline on its connection: how drain bounds reading a stream's end
// without a timer and a goroutine per call (issue 27). A body already
// released has nothing more to read, and its connection may be another
// request's.
func (b *rawBody) boundReads(t time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		b.deadline = true
		_ = b.conn.SetReadDeadline(t)
		if b.ctx.Err() != nil {
			b.conn.abort() // the cancellation's abort may have come just before
		}
	}
	return true
}

func (b *rawBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	done, derr, noWait := b.done, b.err, b.noWait
	b.mu.Unlock()
	if done {
		return 0, derr
	}
	if noWait && b.conn.br.Buffered() <= len("\r\n") {
		// What is buffered is whole chunks: at most the line end of the
		// last one is left, which the next chunk's read would wait after.
		return 0, errWouldWait
	}
	n, err := b.body.Read(p)
	switch {
	case err == io.EOF:
		b.release(b.reuse, err)
	case err != nil:
		if b.ctx.Err() != nil {
			err = context.Cause(b.ctx) // not the deadline that ended the read
		}
		b.release(false, err)
	}
	return n, err
}

func (b *rawBody) Close() error {
	b.release(false, errBodyClosed)
	return nil
}

var errBodyClosed = errors.New("http: read on closed response body")

// release ends the request once: the connection goes back to the pool if
// reuse holds, the request was not cancelled meanwhile and nothing
// follows the response; else it is closed.
func (b *rawBody) release(reuse bool, err error) {
	b.mu.Lock()
	if b.done {
		b.mu.Unlock()
		return
	}
	b.done, b.err = true, err
	deadline := b.deadline
	b.mu.Unlock()
	if b.stop() && reuse && b.conn.br.Buffered() == 0 {
		if deadline {
			_ = b.conn.SetReadDeadline(time.Time{})
		}
		b.c.put(b.conn)
		return
	}
	_ = b.conn.Close()
}

// leaveTail ends the body without reading the rest of it: its connection
// goes back to the pool with the rest (conn.tail), which the next request
// on it reads first (finishTail). That is how the caller's goroutine ends a
// stream whose answer came: the stream's end usually comes in a write of
// the server's own a moment later, not worth a wait for it (issue 27).
// It reports false, and does nothing, when a recent rest did not come in
// time (tailsOK); a body over already has nothing to leave.
func (b *rawBody) leaveTail() bool {
	b.mu.Lock()
	if b.done {
		b.mu.Unlock()
		return true
	}
	if !b.c.tailsOK() {
		b.mu.Unlock()
		return false
	}
	b.done, b.err = true, errBodyClosed
	deadline := b.deadline
	b.mu.Unlock()
	if !b.stop() || !b.reuse {
		_ = b.conn.Close()
		return true
	}
	if deadline {
		_ = b.conn.SetReadDeadline(time.Time{})
	}
	b.conn.tail = b.body
	b.c.put(b.conn)
	return true
}

// setNoWait sets noWait (see there).
func (b *rawBody) setNoWait(on bool) {
	b.mu.Lock()
	b.noWait = on
	b.mu.Unlock()
}
