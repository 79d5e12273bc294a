package stdio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// Bounds of a mux. The writer queue holds requests on their way to stdin; a
// call's queue holds the notifications for it that its caller has not taken
// yet (a caller that falls that far behind loses notifications, logged).
const (
	muxQueueLen  = 64
	callQueueLen = 64
	// exitGrace is how long a process that closed its stdout has to exit
	// on its own before it is stopped.
	exitGrace = time.Second
)

// metaSubscriptionID is the `_meta` key that ties a notification to the
// subscriptions/listen request it belongs to (its value is that request's id).
const metaSubscriptionID = "io.modelcontextprotocol/subscriptionId"

// errMuxClosed ends the calls of a mux that we shut down ourselves.
var errMuxClosed = errors.New("upstream: the shared MCP server process was stopped")

// muxProc is the part of a *pool.Process a mux uses.
type muxProc interface {
	Stdin() io.WriteCloser
	Stdout() io.Reader
	Done() <-chan struct{}
	Err() error
	PID() int
	Release()
}

// mux multiplexes many clients' 2026-07-28 requests over one stdio process.
// It owns the process's stdin (a writer goroutine fed by a bounded queue) and
// stdout (a reader goroutine), and every id the server sees: each request
// goes out with a fresh integer id, which also stands in for its
// progressToken and, for subscriptions/listen, its subscription id. What
// comes back is routed by those values and carries the client's own values
// again, byte for byte. Nothing else of a message is touched.
type mux struct {
	proc           muxProc
	logger         *zap.Logger
	maxMessageSize int
	onEnd          func(*mux) // called once when the mux ends; may be nil

	queue chan muxOut
	kick  chan struct{} // buffered(1): cancels are pending
	done  chan struct{} // closed when the mux ended

	endOnce sync.Once
	mu      sync.Mutex
	ended   bool
	err     error // why it ended; set before done is closed
	nextID  int64
	calls   map[int64]*muxCall // in flight, by upstream id
	cancels []int64            // upstream ids to cancel, written before the next request
}

// muxOut is one line for the process's stdin.
type muxOut struct {
	call *muxCall // the request's call, nil for the mux's own messages
	line []byte   // with its newline
}

// newMux starts relaying proc's stdio. Its goroutines are counted on wg.
func newMux(proc muxProc, maxMessageSize int, logger *zap.Logger, wg *sync.WaitGroup, onEnd func(*mux)) *mux {
	m := &mux{
		proc:           proc,
		logger:         logger.With(zap.Int("pid", proc.PID())),
		maxMessageSize: maxMessageSize,
		onEnd:          onEnd,
		queue:          make(chan muxOut, muxQueueLen),
		kick:           make(chan struct{}, 1),
		done:           make(chan struct{}),
		calls:          make(map[int64]*muxCall),
	}
	wg.Add(2)
	go func() { defer wg.Done(); m.readLoop() }()
	go func() { defer wg.Done(); m.writeLoop() }()
	return m
}

// close stops the process; calls in flight fail with errMuxClosed.
func (m *mux) close() { m.end(errMuxClosed) }

// end fails every call in flight with err, stops the process and reports
// the end to the owner. Only the first call counts.
func (m *mux) end(err error) {
	m.endOnce.Do(func() {
		m.mu.Lock()
		m.ended = true
		m.err = err
		calls := m.calls
		m.calls = nil
		m.cancels = nil
		for _, c := range calls {
			c.done = true
		}
		m.mu.Unlock()
		close(m.done)
		m.proc.Release()
		// The owner forgets this mux before any caller learns it ended, so
		// a caller that reacts by calling again never lands on it.
		if m.onEnd != nil {
			m.onEnd(m)
		}
		for _, c := range calls {
			m.finish(c, nil, err)
		}
	})
}

// abandon forgets a call whose caller left. A request already written is
// cancelled upstream; one still queued is never written.
func (m *mux) abandon(c *muxCall) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.done {
		return
	}
	c.done = true
	delete(m.calls, c.upID)
	if c.written {
		m.cancels = append(m.cancels, c.upID)
		select {
		case m.kick <- struct{}{}:
		default:
		}
	}
}

// take removes and returns the call with upstream id id, or nil.
func (m *mux) take(id int64) *muxCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.calls[id]
	if c != nil {
		c.done = true
		delete(m.calls, id)
	}
	return c
}

// lookup returns the call with upstream id id, or nil.
func (m *mux) lookup(id int64) *muxCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[id]
}

// writeLoop writes queued lines to stdin, each pending cancel first. No lock
// is held while a pipe blocks.
func (m *mux) writeLoop() {
	w := m.proc.Stdin()
	for {
		select {
		case <-m.done:
			return
		case <-m.kick:
			if !m.writeCancels(w) {
				return
			}
		case o := <-m.queue:
			if !m.writeCancels(w) {
				return
			}
			if o.call != nil {
				m.mu.Lock()
				skip := o.call.done
				o.call.written = !skip
				m.mu.Unlock()
				if skip {
					continue // abandoned before it was written
				}
			}
			if !m.write(w, o.line) {
				return
			}
		}
	}
}

// writeCancels writes notifications/cancelled for every abandoned request.
func (m *mux) writeCancels(w io.Writer) bool {
	m.mu.Lock()
	ids := m.cancels
	m.cancels = nil
	m.mu.Unlock()
	for _, id := range ids {
		n := pipeline.CancelledNotification(strconv.AppendInt(nil, id, 10), "the client cancelled the request")
		if !m.write(w, append(n.Raw, '\n')) {
			return false
		}
	}
	return true
}

// write writes one line. A failed write means the process is gone or going:
// the writer stops and the process is stopped; the reader then sees EOF and
// ends the mux with the exit status.
func (m *mux) write(w io.Writer, line []byte) bool {
	if _, err := w.Write(line); err != nil {
		m.logger.Debug("writing to the server's stdin failed; stopping it", zap.Error(err))
		m.proc.Release()
		return false
	}
	return true
}

// readLoop routes the process's stdout until EOF, then ends the mux with the
// process's exit status.
func (m *mux) readLoop() {
	readErr := readMessages(m.proc.Stdout(), m.maxMessageSize, m.logger, m.route)
	select {
	case <-m.done: // we stopped it
		<-m.proc.Done()
		return
	default:
	}
	// The server closed stdout: it exited or is about to. Give it a moment
	// to be reaped as the crash it is, then stop what is left, and report
	// how it ended.
	t := time.NewTimer(exitGrace)
	select {
	case <-m.proc.Done():
	case <-t.C:
	}
	t.Stop()
	m.proc.Release()
	<-m.proc.Done()
	err := m.proc.Err()
	if readErr != nil {
		err = readErr
	}
	if err == nil {
		err = errors.New("exited")
	}
	m.logger.Info("MCP server process ended", zap.Error(err))
	m.end(fmt.Errorf("upstream: MCP server process %d ended: %w", m.proc.PID(), err))
}

// route hands one server message to the call it belongs to.
func (m *mux) route(msg *pipeline.Message) {
	switch msg.Kind {
	case pipeline.KindResponse:
		id, ok := parseUpID(msg.ID)
		var c *muxCall
		if ok {
			c = m.take(id)
		}
		if c == nil {
			m.logger.Debug("dropped a server response for no pending request", zap.ByteString("id", msg.ID))
			return
		}
		m.finish(c, m.restoreResponse(msg, c), nil)
	case pipeline.KindNotification:
		m.routeNotification(msg)
	case pipeline.KindRequest:
		// 2026 servers send no requests; answer so it does not wait.
		m.logger.Debug("refused a request from a shared MCP server", zap.String("method", msg.Method))
		e := pipeline.NewError(msg.ID, pipeline.CodeMethodNotFound, "this client does not serve requests from the server")
		select {
		case m.queue <- muxOut{line: append(e.Raw, '\n')}:
		default:
		}
	}
}

// routeNotification passes a notification to the call it names by progress
// token, subscription id or cancelled request id, with the client's value
// restored. Log messages go to the only request in flight that asked for
// them. Anything else is dropped.
func (m *mux) routeNotification(msg *pipeline.Message) {
	var (
		c        *muxCall
		out      []byte
		ok, last bool
	)
	switch {
	case msg.Method == "notifications/progress":
		if id, found := parseUpID(findMember(msg.Params, "progressToken")); found {
			if c = m.lookup(id); c != nil && c.token == nil {
				c = nil // that request asked for no progress
			}
			if c != nil {
				out, ok = replaceIn(msg.Raw, []string{"params", "progressToken"}, c.token)
			}
		}
	case msg.Method == "notifications/cancelled":
		if id, found := parseUpID(findMember(msg.Params, "requestId")); found {
			if c = m.take(id); c != nil {
				out, ok = replaceIn(msg.Raw, []string{"params", "requestId"}, c.clientID)
				last = true
			}
		}
	default:
		if id, found := parseUpID(findMember(findMember(msg.Params, "_meta"), metaSubscriptionID)); found {
			if c = m.lookup(id); c != nil {
				out, ok = replaceIn(msg.Raw, []string{"params", "_meta", metaSubscriptionID}, c.clientID)
			}
		} else if msg.Method == "notifications/message" {
			if c = m.onlyLogger(); c != nil {
				out, ok = msg.Raw, true
			}
		}
	}
	if c == nil {
		m.logger.Debug("dropped a server notification that names no pending request", zap.String("method", msg.Method))
		return
	}
	var n *pipeline.Message
	if ok {
		n, _ = reparse(msg, out) // nil when it does not parse
	}
	switch {
	case last:
		// The server's cancel is the call's final message: it takes the
		// response's slot, which no full queue can refuse.
		m.finish(c, n, nil)
	case n != nil && !m.queueNote(c, n):
		m.logger.Warn("dropped a server notification: its client is too slow to take it",
			zap.String("method", msg.Method), zap.Int("queued", callQueueLen))
	}
}

// reparse returns the message out, an edit of msg's bytes: msg itself when
// nothing changed, else out parsed without another copy (out is a new
// slice, replaceIn's).
func reparse(msg *pipeline.Message, out []byte) (*pipeline.Message, error) {
	if len(out) == len(msg.Raw) && (len(out) == 0 || &out[0] == &msg.Raw[0]) {
		return msg, nil
	}
	return pipeline.ParseEdited(out)
}

// onlyLogger returns the one call in flight that asked for log messages,
// listens aside, or nil when there is none or more than one: stdio carries
// no link from a log message to its request.
func (m *mux) onlyLogger() *muxCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	var found *muxCall
	for _, c := range m.calls {
		if c.listen {
			continue
		}
		if found != nil {
			return nil
		}
		found = c
	}
	if found == nil || !found.logs {
		return nil
	}
	return found
}

// restoreResponse gives a response the client's id back (and, for a listen,
// the subscription id in the result's _meta).
func (m *mux) restoreResponse(msg *pipeline.Message, c *muxCall) *pipeline.Message {
	out, ok := replaceMember(msg.Raw, "id", false, func([]byte) []byte { return c.clientID })
	if ok && c.listen {
		if id, found := parseUpID(findMember(findMember(msg.Result, "_meta"), metaSubscriptionID)); found && id == c.upID {
			out, _ = replaceIn(out, []string{"result", "_meta", metaSubscriptionID}, c.clientID)
		}
	}
	if ok {
		// out is a new slice (replaceMember's): the message takes it
		// without another copy.
		if r, err := pipeline.ParseEdited(out); err == nil {
			return r
		}
	}
	m.logger.Warn("could not restore the client's id in a server response", zap.ByteString("response", truncate(msg.Raw, 256)))
	return pipeline.NewError(c.clientID, pipeline.CodeInternalError, "the gateway could not relay the MCP server's response")
}

// send queues a message that expects no answer (a client notification)
// without waiting; it reports false when the queue is full or the mux ended.
func (m *mux) send(raw []byte) bool {
	line := append(bytes.Clone(raw), '\n')
	if bytes.ContainsAny(raw, "\r\n") {
		var b bytes.Buffer
		if json.Compact(&b, raw) != nil {
			return false
		}
		line = append(b.Bytes(), '\n')
	}
	select {
	case <-m.done:
		return false
	default:
	}
	select {
	case m.queue <- muxOut{line: line}:
		return true
	default:
		return false
	}
}
