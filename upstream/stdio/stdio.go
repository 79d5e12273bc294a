package stdio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// sendQueueLen bounds the messages waiting for a process's stdin. A full
// queue blocks senders (back-pressure to the client), it never grows.
const sendQueueLen = 64

// Upstream is an upstream of local MCP servers run as subprocesses, one process
// per client session, taken from a pool that keeps warm spares. 2026-07-28
// requests (Call) share a few processes of the same pool instead; see
// stdiostateless.go.
type Upstream struct {
	pool           *pool.Pool
	maxMessageSize int // as made; see current for the value in force
	logger         *zap.Logger
	opts           Options                   // as made; see current for the values in force
	live           atomic.Pointer[stdioLive] // set by SetLive (stdiolive.go)

	closeCtx    context.Context // ends with Close; stops an era probe
	closeCancel context.CancelFunc
	shared      sharedSet // the processes that serve Call
	era         eraState  // the server's era, once known

	wg sync.WaitGroup // the goroutines of every conn, shared process and probe
}

// New returns an upstream that takes its processes from p, with the
// default Options. Lines longer than maxMessageSize on a server's
// stdout are dropped and logged.
func New(p *pool.Pool, maxMessageSize int, logger *zap.Logger) *Upstream {
	s, _ := NewWithOptions(p, maxMessageSize, logger, Options{})
	return s
}

// Pool returns the process pool behind the upstream.
func (s *Upstream) Pool() *pool.Pool { return s.pool }

// Wait blocks until the goroutines of every connection opened so far, of the
// shared processes and of an era probe have returned, which happens once
// their processes have exited. Shared processes run until Close.
func (s *Upstream) Wait() { s.wg.Wait() }

// Open takes a process from the pool and starts relaying its stdio.
func (s *Upstream) Open(ctx context.Context, r upstream.Receiver) (upstream.Conn, error) {
	proc, err := s.pool.Acquire(ctx)
	if err != nil {
		if wait, full := pool.RetryAfter(err); full {
			return nil, &upstream.BusyError{RetryAfter: wait, Err: err}
		}
		if errors.Is(err, pool.ErrClosed) {
			// A request that reached a configuration being replaced: the
			// client's retry lands on the new one.
			return nil, &upstream.BusyError{RetryAfter: time.Second, Err: fmt.Errorf("%w: %w", upstream.ErrReconfiguring, err)}
		}
		return nil, err
	}
	c := &stdioConn{
		proc:   proc,
		recv:   r,
		logger: s.logger.With(zap.Int("pid", proc.PID())),
		wake:   make(chan struct{}, 1),
		room:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); c.readLoop(s.messageLimit()) }()
	go func() { defer s.wg.Done(); c.writeLoop() }()
	return c, nil
}

// stdioConn relays one session's messages to and from one process.
type stdioConn struct {
	proc   *pool.Process
	recv   upstream.Receiver
	logger *zap.Logger

	// The lines on their way to stdin (sendq.go).
	wmu     sync.Mutex
	pending [][]byte      // lines (newline included) for writeLoop, in order; at most sendQueueLen
	writing bool          // writeLoop is writing a line it took from pending
	line    []byte        // a direct write's line
	wake    chan struct{} // cap 1: pending has lines
	room    chan struct{} // cap 1: pending has room again

	once   sync.Once
	done   chan struct{} // closed when the connection ends, for any reason
	mu     sync.Mutex
	closed bool // Close was called: the end is ours, not the server's
}

// PID returns the id of the session's process (upstream.ProcessConn).
func (c *stdioConn) PID() int { return c.proc.PID() }

// Close stops the process; the reader sees EOF once it has exited.
func (c *stdioConn) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.end()
}

// end stops both loops and releases the process (which runs the stop
// sequence in the pool's background).
func (c *stdioConn) end() {
	c.once.Do(func() {
		close(c.done)
		c.proc.Release()
	})
}

// readLoop parses the process's stdout into messages until EOF, then reports
// the end to the receiver unless the session itself closed the connection.
func (c *stdioConn) readLoop(maxMessageSize int) {
	readErr := readMessages(c.proc.Stdout(), maxMessageSize, c.logger, c.recv.Deliver)
	c.mu.Lock()
	asked := c.closed
	c.mu.Unlock()
	if !asked {
		c.proc.Ended() // the server ended on its own: the pool counts a crash
	}
	c.end()
	<-c.proc.Done()
	c.mu.Lock()
	ours := c.closed
	c.mu.Unlock()
	if ours {
		return
	}
	err := c.proc.Err()
	if readErr != nil {
		err = readErr
	}
	if err == nil {
		err = errors.New("exited")
	}
	c.recv.Closed(fmt.Errorf("MCP server process %d ended: %w", c.proc.PID(), err))
}

// truncate shortens b to at most n bytes, for log fields.
func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// oneLine returns raw as a single line, as stdio framing needs: a message
// that arrived pretty-printed is compacted (JSON strings cannot hold a raw
// newline, so only whitespace between tokens changes).
func oneLine(raw []byte) ([]byte, error) {
	if !bytes.ContainsAny(raw, "\r\n") {
		return raw, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, fmt.Errorf("compacting a message for stdio: %w", err)
	}
	return b.Bytes(), nil
}

// Interface guard: the admin API shows a stdio session's pid.
var _ upstream.ProcessConn = (*stdioConn)(nil)
