package balance

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// groupConn is a session's connection through a group: the connection to
// the member serving it, and, until the member answered the session's
// initialize, what it takes to try the next member instead.
type groupConn struct {
	g *Group
	r upstream.Receiver

	mu       sync.Mutex
	cur      *memberConn
	closed   bool
	tried    map[*Member]bool
	retries  int // left for the initialize
	init     *pendingInit
	retrying bool // a retry goroutine owns the session's move (and tried)
}

// pendingInit is the session's initialize while its answer is awaited.
type pendingInit struct {
	ctx   context.Context
	msg   *pipeline.Message
	key   string
	start time.Time
}

// memberConn is one attempt of a session on one member. It is the
// member's Receiver; what it gets after the session moved on (a retry) or
// ended is dropped.
type memberConn struct {
	gc    *groupConn
	m     *Member
	inner upstream.Conn
	ended atomic.Bool
}

// Send writes to the member serving the session; the session's initialize
// is remembered until answered, to be sent to the next member if this one
// gives no answer.
func (c *groupConn) Send(ctx context.Context, m *pipeline.Message) error {
	return c.send(ctx, m, false)
}

// SendAwaited is Send for an awaited request (upstream.AwaitedSender): the
// member serving the session gets it as one.
func (c *groupConn) SendAwaited(ctx context.Context, m *pipeline.Message) error {
	return c.send(ctx, m, true)
}

func (c *groupConn) send(ctx context.Context, m *pipeline.Message, awaited bool) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return upstream.ErrClosed
	}
	cur := c.cur
	if m.Method == "initialize" && m.IsRequest() && c.init == nil {
		c.init = &pendingInit{ctx: context.WithoutCancel(ctx), msg: m, key: m.IDKey(), start: time.Now()}
	}
	c.mu.Unlock()
	if awaited {
		return upstream.SendAwaited(ctx, cur.inner, m)
	}
	return cur.inner.Send(ctx, m)
}

// Close ends the session on its member.
func (c *groupConn) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	cur := c.cur
	c.mu.Unlock()
	cur.end()
}

// Listen passes the client's listening on to the member's connection.
func (c *groupConn) Listen(on bool) {
	if l, ok := c.current().inner.(upstream.Listener); ok {
		l.Listen(on)
	}
}

// PID is the process of a stdio member's connection (0 for others).
func (c *groupConn) PID() int {
	if p, ok := c.current().inner.(upstream.ProcessConn); ok {
		return p.PID()
	}
	return 0
}

// ServedBy names the member serving the session.
func (c *groupConn) ServedBy() (string, upstream.Upstream) {
	cur := c.current()
	return cur.m.name, cur.m.Upstream()
}

func (c *groupConn) current() *memberConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

// isCurrent reports whether mc still serves an open session.
func (c *groupConn) isCurrent(mc *memberConn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.closed && c.cur == mc
}

// end closes the member's connection once and forgets it (forget is
// idempotent: Closed may have forgotten it already).
func (mc *memberConn) end() {
	if mc.ended.CompareAndSwap(false, true) {
		mc.m.forget(mc)
		mc.inner.Close()
	}
}

// die ends the session because its member went down.
func (mc *memberConn) die(err error) {
	gc := mc.gc
	gc.mu.Lock()
	current := !gc.closed && gc.cur == mc
	if current {
		gc.closed = true
	}
	gc.mu.Unlock()
	mc.end()
	if current {
		gc.r.Closed(err)
	}
}

// Deliver hands a server message to the session (upstream.Receiver).
func (mc *memberConn) Deliver(m *pipeline.Message) { mc.deliver(m, nil) }

// DeliverRelated hands a server message that belongs to a client request
// to the session (upstream.RelatedReceiver).
func (mc *memberConn) DeliverRelated(m *pipeline.Message, requestID json.RawMessage) {
	mc.deliver(m, requestID)
}

func (mc *memberConn) deliver(m *pipeline.Message, requestID json.RawMessage) {
	gc := mc.gc
	if m.IsResponse() {
		took, ok := gc.answered(mc, m)
		if !ok {
			return // stale, or the initialize goes to the next member
		}
		// Judged once delivered: the answer that takes the member out (and
		// ends the session) reaches the client before the session's end.
		defer func() {
			if took > 0 {
				mc.m.judgeLatency(took, "initialize")
			}
			mc.m.judge(m)
		}()
	} else if !gc.isCurrent(mc) {
		return
	}
	if requestID != nil {
		if rr, ok := gc.r.(upstream.RelatedReceiver); ok {
			rr.DeliverRelated(m, requestID)
			return
		}
	}
	gc.r.Deliver(m)
}

// Closed reports that the member's side of the session ended: before the
// initialize was answered that is a failed initialize (the next member
// gets it, if retries are left), after it the session's end.
func (mc *memberConn) Closed(err error) {
	gc := mc.gc
	mc.m.forget(mc) // the connection is still closed (end), which releases what it holds
	gc.mu.Lock()
	if gc.closed || gc.cur != mc {
		gc.mu.Unlock()
		return
	}
	if gc.retrying {
		gc.mu.Unlock()
		return // the retry under way moves the session on
	}
	if gc.init != nil && gc.retries > 0 {
		init := gc.init
		gc.retrying = true
		gc.mu.Unlock()
		mc.m.fail(time.Now(), "the upstream ended before it answered initialize: "+errText(err))
		gc.retry(init, nil)
		return
	}
	gc.closed = true
	gc.mu.Unlock()
	mc.end() // the session's Close finds the group connection closed
	gc.r.Closed(err)
}

// answered looks at a response from mc and reports whether it goes on to
// the client: not when it is stale, nor when it is the initialize's failure
// and a retry takes the session to the next member. took is how long the
// answer to the session's initialize took (0 for other answers).
func (c *groupConn) answered(mc *memberConn, m *pipeline.Message) (took time.Duration, ok bool) {
	c.mu.Lock()
	if c.closed || c.cur != mc || c.retrying {
		c.mu.Unlock()
		return 0, false
	}
	init := c.init
	if init == nil || m.IDKey() != init.key {
		c.mu.Unlock()
		return 0, true
	}
	failed := upstream.GatewayStatus(m) != 0
	if !failed {
		c.init = nil
		c.mu.Unlock()
		return max(time.Since(init.start), 1), true
	}
	if c.retries == 0 {
		c.init = nil
		c.mu.Unlock()
		return 0, true // judge counts the failure; the client gets the error
	}
	c.retrying = true
	c.mu.Unlock()
	mc.m.fail(time.Now(), "initialize got no answer")
	c.retry(init, m)
	return 0, false
}

// retry moves the session, before its initialize was answered, to the
// next available member and sends the initialize again. It runs off the
// member's reader (which must not block), on a goroutine of its own that
// the session's connection owns until it returns. When no member is left,
// the client gets failure (the last member's answer), or the session ends.
func (c *groupConn) retry(init *pendingInit, failure *pipeline.Message) {
	c.g.wg.Add(1)
	go func() {
		defer c.g.wg.Done()
		owned := true // this goroutine holds c.retrying until it hands it on
		defer func() {
			if owned {
				c.mu.Lock()
				c.retrying = false
				c.mu.Unlock()
			}
		}()
		c.mu.Lock()
		old := c.cur
		c.mu.Unlock()
		old.end()
		for {
			c.mu.Lock()
			if c.closed {
				c.mu.Unlock()
				return
			}
			if c.retries == 0 {
				c.init = nil
				c.closed = failure == nil
				c.mu.Unlock()
				if failure != nil {
					c.deliverTo(failure)
				} else {
					c.r.Closed(errNoAnswer)
				}
				return
			}
			c.retries--
			c.mu.Unlock()
			mc, err := c.g.openNext(init.ctx, c)
			if err != nil {
				if failure == nil {
					// err may name the member's command or URL: the
					// client reads only that no member answered.
					failure = pipeline.NewError(init.msg.ID, pipeline.CodeInternalError, errNoAnswer.Error())
				}
				c.mu.Lock()
				c.retries = 0
				c.mu.Unlock()
				continue
			}
			c.mu.Lock()
			if c.closed {
				c.mu.Unlock()
				mc.end()
				return
			}
			c.cur = mc
			c.retrying = false // mc's answer decides from here, and may come within Send
			init.start = time.Now()
			c.mu.Unlock()
			owned = false // cleared with the move above
			if err := mc.inner.Send(init.ctx, init.msg); err == nil {
				return // its answer comes to mc
			}
			c.mu.Lock()
			if c.cur != mc || c.retrying {
				c.mu.Unlock()
				return // mc's end already started another retry
			}
			owned = true
			c.retrying = true
			c.mu.Unlock()
			mc.m.fail(time.Now(), "sending initialize failed")
			mc.end()
		}
	}()
}

// deliverTo hands a response to the session as the member would have.
func (c *groupConn) deliverTo(m *pipeline.Message) {
	if rr, ok := c.r.(upstream.RelatedReceiver); ok {
		rr.DeliverRelated(m, m.ID)
		return
	}
	c.r.Deliver(m)
}

// judge reads a response for the member's passive health: an answer the
// upstream never gave (the HTTP upstream made it up) and a JSON-RPC
// internal error are failures; a tool's error result is not. Any other
// answer is a success, which matters only to a breaker's trial.
func (m *Member) judge(resp *pipeline.Message) {
	if resp.Error != nil {
		if upstream.GatewayStatus(resp) != 0 {
			m.fail(time.Now(), "the upstream gave no answer")
			return
		}
		if errorCode(resp.Error) == pipeline.CodeInternalError {
			m.fail(time.Now(), "the upstream answered with an internal error")
			return
		}
	}
	if m.tripped() {
		m.succeed()
	}
}

// judgeLatency counts an answer slower than the unhealthy latency as a
// failure, else as a success.
func (m *Member) judgeLatency(took time.Duration, what string) {
	m.mu.Lock()
	limit := m.health.UnhealthyLatency
	m.mu.Unlock()
	if limit > 0 && took > limit {
		m.fail(time.Now(), what+" was answered in "+took.Round(time.Millisecond).String()+", above unhealthy_latency")
		return
	}
	if m.tripped() {
		m.succeed()
	}
}

// errorCode is the code of a JSON-RPC error object (0 if it has none).
func errorCode(raw json.RawMessage) int {
	var e struct {
		Code int `json:"code"`
	}
	_ = json.Unmarshal(raw, &e)
	return e.Code
}

func errText(err error) string {
	if err == nil {
		return "no error given"
	}
	return err.Error()
}

// Interface guards.
var (
	_ upstream.Conn            = (*groupConn)(nil)
	_ upstream.Listener        = (*groupConn)(nil)
	_ upstream.ProcessConn     = (*groupConn)(nil)
	_ upstream.RelatedReceiver = (*memberConn)(nil)
)
