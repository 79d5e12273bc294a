package front

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// ---------------------------------------------------------------------------
// FAULT INJECTION: a fake upstream whose connections hand every message the
// front sends to a scripted MCP server (fakeUpstream.handle). The script
// answers initialize, echoes tools/call and, depending on the tool name,
// emits progress, sends a sampling request and waits for the client's
// answer, waits for the test's release, hangs, or crashes.
// ---------------------------------------------------------------------------

type fakeUpstream struct {
	openErr  error  // returned by Open when set
	capacity int    // >0: at most this many open conns, as a stdio pool; Open then asks to reclaim
	version  string // protocolVersion answered to initialize; "" echoes the client's
	syncSend bool   // Send returns only after the script handled the message
	// script, when set, sees each message first; returning true means it
	// handled the message.
	script func(c *fakeConn, m *pipeline.Message) bool

	release     chan struct{} // closed by releaseAll: "wait" tools answer
	releaseOnce sync.Once

	wg sync.WaitGroup // every goroutine of the fake

	mu      sync.Mutex
	conns   []*fakeConn
	changed chan struct{}
}

func newFakeUpstream() *fakeUpstream {
	return &fakeUpstream{release: make(chan struct{}), changed: make(chan struct{})}
}

func (u *fakeUpstream) releaseAll() { u.releaseOnce.Do(func() { close(u.release) }) }

// Open implements upstream.Upstream.
func (u *fakeUpstream) Open(ctx context.Context, r upstream.Receiver) (upstream.Conn, error) {
	if u.openErr != nil {
		return nil, u.openErr
	}
	if u.capacity > 0 && u.live() >= u.capacity {
		// As a full stdio pool does: ask for an idle session's process and
		// wait for it to be given up.
		if !upstream.Reclaim(ctx) {
			return nil, &upstream.BusyError{RetryAfter: 2 * time.Second, Err: errors.New("fake upstream at capacity")}
		}
		// The session that gave way closed its conn before Reclaim returned.
		if u.live() >= u.capacity {
			return nil, errors.New("fake upstream: Reclaim reported success but no conn closed")
		}
	}
	c := &fakeConn{up: u, r: r, outbox: make(chan outItem), done: make(chan struct{}),
		changed: make(chan struct{}), waiters: make(map[string]chan *pipeline.Message)}
	u.mu.Lock()
	u.conns = append(u.conns, c)
	close(u.changed)
	u.changed = make(chan struct{})
	u.mu.Unlock()
	u.wg.Add(1)
	go c.run()
	return c, nil
}

// conn waits for the i-th connection opened (0-based).
func (u *fakeUpstream) conn(t testing.TB, i int) *fakeConn {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		u.mu.Lock()
		if i < len(u.conns) {
			c := u.conns[i]
			u.mu.Unlock()
			return c
		}
		ch := u.changed
		u.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for upstream connection #%d", i)
		}
	}
}

// live counts the conns not closed yet.
func (u *fakeUpstream) live() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, c := range u.conns {
		if !c.isClosed() {
			n++
		}
	}
	return n
}

func (u *fakeUpstream) opened() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.conns)
}

type outItem struct {
	m        *pipeline.Message // delivered when set, else Closed(closeErr)
	related  json.RawMessage   // DeliverRelated to this request id when set
	closeErr error
	ack      chan struct{}
}

type fakeConn struct {
	up     *fakeUpstream
	r      upstream.Receiver
	outbox chan outItem

	stopOnce    sync.Once
	done        chan struct{} // closed when the connection ended
	serverIDSeq int

	mu        sync.Mutex
	received  []*pipeline.Message
	changed   chan struct{}
	waiters   map[string]chan *pipeline.Message // server request id -> client's answer
	listening int                               // upstream.Listener count
	listenLog []bool
	awaited   map[string]bool // request id -> it came through SendAwaited
}

// Listen implements upstream.Listener.
func (c *fakeConn) Listen(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if on {
		c.listening++
	} else {
		c.listening--
	}
	c.listenLog = append(c.listenLog, on)
	close(c.changed)
	c.changed = make(chan struct{})
}

// waitListening waits until the Listen count is n.
func (c *fakeConn) waitListening(t testing.TB, n int) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		c.mu.Lock()
		got, ch := c.listening, c.changed
		c.mu.Unlock()
		if got == n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %d listeners; have %d", n, got)
		}
	}
}

// run is the connection's reader: it calls the Receiver in order.
func (c *fakeConn) run() {
	defer c.up.wg.Done()
	for {
		select {
		case it := <-c.outbox:
			if it.m != nil {
				if it.related != nil {
					c.r.(upstream.RelatedReceiver).DeliverRelated(it.m, it.related)
				} else {
					c.r.Deliver(it.m)
				}
			} else {
				c.r.Closed(it.closeErr)
				c.stop()
				close(it.ack)
				return
			}
			close(it.ack)
		case <-c.done:
			return
		}
	}
}

func (c *fakeConn) stop() { c.stopOnce.Do(func() { close(c.done) }) }

// Close implements upstream.Conn.
func (c *fakeConn) Close() { c.stop() }

// Send implements upstream.Conn: it records m and hands it to the script.
func (c *fakeConn) Send(ctx context.Context, m *pipeline.Message) error {
	return c.send(ctx, m, false)
}

// SendAwaited implements upstream.AwaitedSender: the message is handled as
// Send handles it, and c.awaited records how it came.
func (c *fakeConn) SendAwaited(ctx context.Context, m *pipeline.Message) error {
	return c.send(ctx, m, true)
}

func (c *fakeConn) send(ctx context.Context, m *pipeline.Message, awaited bool) error {
	select {
	case <-c.done:
		return upstream.ErrClosed
	default:
	}
	c.mu.Lock()
	c.received = append(c.received, m)
	if m.IsRequest() {
		if c.awaited == nil {
			c.awaited = make(map[string]bool)
		}
		c.awaited[m.IDKey()] = awaited
	}
	close(c.changed)
	c.changed = make(chan struct{})
	var waiter chan *pipeline.Message
	if m.IsResponse() {
		waiter = c.waiters[m.IDKey()]
		delete(c.waiters, m.IDKey())
	}
	c.mu.Unlock()
	if waiter != nil {
		waiter <- m // buffered 1
		return nil
	}
	handled := make(chan struct{})
	c.up.wg.Add(1)
	go func() {
		defer c.up.wg.Done()
		defer close(handled)
		c.up.handle(c, m)
	}()
	if c.up.syncSend {
		select {
		case <-handled:
		case <-ctx.Done():
		case <-c.done:
		}
	}
	return nil
}

// emit hands m to the front through the reader and waits until it was
// delivered. It reports false if the connection ended first.
func (c *fakeConn) emit(m *pipeline.Message) bool {
	it := outItem{m: m, ack: make(chan struct{})}
	select {
	case c.outbox <- it:
	case <-c.done:
		return false
	}
	<-it.ack
	return true
}

// emitRelated is emit through DeliverRelated, as an upstream that knows
// which request a message belongs to (HTTP) does.
func (c *fakeConn) emitRelated(t testing.TB, raw string, requestID string) {
	t.Helper()
	it := outItem{m: mustParse(t, raw), related: json.RawMessage(requestID), ack: make(chan struct{})}
	select {
	case c.outbox <- it:
	case <-c.done:
		t.Fatalf("the upstream connection ended before %s was delivered", raw)
	}
	<-it.ack
}

// emitRaw is emit for a literal message.
func (c *fakeConn) emitRaw(t testing.TB, raw string) {
	t.Helper()
	if !c.emit(mustParse(t, raw)) {
		t.Fatalf("the upstream connection ended before %s was delivered", raw)
	}
}

// crash makes the server side end: the front's Receiver gets Closed(err)
// after every message emitted before.
func (c *fakeConn) crash(err error) {
	it := outItem{closeErr: err, ack: make(chan struct{})}
	select {
	case c.outbox <- it:
		<-it.ack
	case <-c.done:
	}
}

// request sends a server request and waits for the client's answer.
func (c *fakeConn) request(method, params string) *pipeline.Message {
	c.mu.Lock()
	c.serverIDSeq++
	id := fmt.Sprintf(`"srv-%d"`, c.serverIDSeq)
	ch := make(chan *pipeline.Message, 1)
	c.waiters[id] = ch
	c.mu.Unlock()
	m, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":` + id + `,"method":"` + method + `","params":` + params + `}`))
	if err != nil {
		panic(err)
	}
	if !c.emit(m) {
		return nil
	}
	select {
	case resp := <-ch:
		return resp
	case <-c.done:
		return nil
	}
}

// waitFor waits until the server received a message matching pred.
func (c *fakeConn) waitFor(t testing.TB, what string, pred func(*pipeline.Message) bool) *pipeline.Message {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		c.mu.Lock()
		for _, m := range c.received {
			if pred(m) {
				c.mu.Unlock()
				return m
			}
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for the upstream to receive %s; it got %s", what, c.receivedSummary())
		}
	}
}

// waitMethod waits for a message with the given method (and id, if not "").
func (c *fakeConn) waitMethod(t testing.TB, method, id string) *pipeline.Message {
	t.Helper()
	return c.waitFor(t, method+" "+id, func(m *pipeline.Message) bool {
		return m.Method == method && (id == "" || string(m.ID) == id)
	})
}

func (c *fakeConn) receivedSummary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, m := range c.received {
		parts = append(parts, string(m.Raw))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (c *fakeConn) waitClosed(t testing.TB) {
	t.Helper()
	within(t, c.done, "the upstream connection to close")
}

func (c *fakeConn) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// handle is the scripted MCP server.
func (u *fakeUpstream) handle(c *fakeConn, m *pipeline.Message) {
	if u.script != nil && u.script(c, m) {
		return
	}
	if !m.IsRequest() {
		return
	}
	switch m.Method {
	case "initialize":
		v := u.version
		if v == "" {
			v = m.ParamsProtocolVersion()
		}
		c.emit(pipeline.NewResult(m.ID, json.RawMessage(`{"protocolVersion":"`+v+`","capabilities":{"tools":{"listChanged":true}},"serverInfo":{"name":"fake","version":"0"}}`)))
	case "ping":
		c.emit(pipeline.NewResult(m.ID, nil))
	case "tools/call":
		var p struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		}
		_ = json.Unmarshal(m.Params, &p)
		args := p.Arguments
		if len(args) == 0 {
			args = json.RawMessage("null")
		}
		switch p.Name {
		case "progress": // one progress notification, then the result
			tok := m.ProgressToken()
			c.emit(pipeline.NewNotification("notifications/progress",
				json.RawMessage(`{"progressToken":`+string(tok)+`,"progress":1,"total":2}`)))
		case "sample": // a sampling request, answered by the client
			resp := c.request("sampling/createMessage", `{"messages":[],"maxTokens":1}`)
			if resp == nil {
				return
			}
			res := resp.Result
			if res == nil {
				res = resp.Error
			}
			c.emit(pipeline.NewResult(m.ID, json.RawMessage(`{"sampled":`+string(res)+`}`)))
			return
		case "wait": // answers once the test calls releaseAll
			select {
			case <-u.release:
			case <-c.done:
				return
			}
		case "hang": // never answers
			<-c.done
			return
		case "crash":
			c.crash(errors.New("fault injection: the server crashed"))
			return
		}
		c.emit(pipeline.NewResult(m.ID, json.RawMessage(`{"tool":"`+p.Name+`","echo":`+string(args)+`}`)))
	default:
		c.emit(pipeline.NewError(m.ID, pipeline.CodeMethodNotFound, "fake: unknown method "+m.Method))
	}
}
