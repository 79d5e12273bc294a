package stdio

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// muxCall is one request in flight through a mux.
type muxCall struct {
	upID     int64
	clientID json.RawMessage // the client's id, byte for byte
	token    json.RawMessage // the client's progressToken, nil if none
	listen   bool            // subscriptions/listen
	logs     bool            // the request asked for log messages

	// wake (capacity 1) tells the caller that notes or the final message
	// came. One small channel, not a queue of callQueueLen slots per
	// call: most calls get no notification at all.
	wake chan struct{}

	// Guarded by mux.mu.
	written bool                // the request reached the writer
	done    bool                // answered, ended or abandoned: no longer in calls
	notes   []*pipeline.Message // notifications the caller has not taken; at most callQueueLen
	final   bool                // resp or err is set: nothing more comes
	resp    *pipeline.Message   // the final message: the response (or the server's cancel), client id restored
	err     error               // the mux ended before the response
}

// call sends req (a request) through the mux and hands what the server
// answers for it to deliver, on the caller's goroutine: notifications first,
// the response last. It returns nil after the response (or after the server
// cancelled the request itself), the mux's error when the process ended
// first, or ctx.Err() when ctx ended first, in which case the server gets
// notifications/cancelled for the request and whatever it still sends for
// it is dropped.
func (m *mux) call(ctx context.Context, req *pipeline.Message, deliver func(*pipeline.Message, int)) error {
	c := &muxCall{
		clientID: req.ID,
		listen:   req.Method == "subscriptions/listen",
		logs:     hasMember(req.Params, "_meta", "io.modelcontextprotocol/logLevel"),
		wake:     make(chan struct{}, 1),
	}
	m.mu.Lock()
	if m.ended {
		err := m.err
		m.mu.Unlock()
		return err
	}
	m.nextID++
	c.upID = m.nextID
	m.mu.Unlock()

	line, token, err := rewriteRequest(req.Raw, c.upID)
	if err != nil {
		return err
	}
	c.token = token

	m.mu.Lock()
	if m.ended {
		err := m.err
		m.mu.Unlock()
		return err
	}
	m.calls[c.upID] = c
	m.mu.Unlock()

	select {
	case m.queue <- muxOut{call: c, line: line}:
	case <-m.done: // the mux ended: c's end is on its way
	case <-ctx.Done():
		m.abandon(c)
		return ctx.Err()
	}
	for {
		select {
		case <-c.wake:
			// The reader queues every notification before it finishes the
			// call, under the same lock: they all go out before the
			// response.
			notes, final := m.takeNotes(c)
			for _, n := range notes {
				deliver(n, http.StatusOK)
			}
			if !final {
				continue
			}
			if c.resp != nil {
				deliver(c.resp, http.StatusOK)
				return nil
			}
			return c.err // nil when the server cancelled the request
		case <-ctx.Done():
			m.abandon(c)
			return ctx.Err()
		}
	}
}

// queueNote queues a notification for c's caller. It reports false, n
// dropped, when callQueueLen of them wait already.
func (m *mux) queueNote(c *muxCall, n *pipeline.Message) bool {
	m.mu.Lock()
	if len(c.notes) >= callQueueLen {
		m.mu.Unlock()
		return false
	}
	c.notes = append(c.notes, n)
	m.mu.Unlock()
	c.signal()
	return true
}

// finish sets c's final message (resp, nil when the server's cancel did not
// parse) or error; nothing is queued for c after it.
func (m *mux) finish(c *muxCall, resp *pipeline.Message, err error) {
	m.mu.Lock()
	c.resp, c.err, c.final = resp, err, true
	m.mu.Unlock()
	c.signal()
}

// takeNotes hands the caller the notifications queued so far and whether
// the final message is in.
func (m *mux) takeNotes(c *muxCall) ([]*pipeline.Message, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	notes := c.notes
	c.notes = nil
	return notes, c.final
}

// signal wakes c's caller, if it is not awake already.
func (c *muxCall) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}
