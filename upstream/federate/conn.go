package federate

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// conn is one client session of a federation: a member connection on each
// server, the requests in flight on them under the gateway's ids, and the
// session's merged lists.
type conn struct {
	f       *Federation
	r       upstream.Receiver
	ctx     context.Context // ends with the session
	cancel  context.CancelFunc
	members []*member

	mu         sync.Mutex
	closed     bool
	nextID     int64
	pending    map[string]*pend     // gateway id (raw JSON) → request in flight on a member
	byClient   map[string]string    // client id → gateway id, for cancellations
	serverReqs map[string]serverReq // gateway id of a server's request → where it came from
	cats       [numKinds]*catalog   // merged lists, by kind
	changed    [numKinds]bool       // a list_changed waits to go out
	shown      [numKinds]uint64     // the sum of the list the client was last shown (changed.go)
	shownSet   [numKinds]bool       // the client was shown that list
	timers     map[kind]*time.Timer // the coalescing windows
	gone       map[string]int       // client-visible names of servers that failed → server
	initParams json.RawMessage      // the client's initialize params, replayed to a rejoining server
	logLevel   json.RawMessage      // the client's logging/setLevel params, likewise
	subs       map[string]Ref       // the client's resource subscriptions → server and its own URI, likewise
}

// pend is a request the gateway sent to a member: a client's (answered to
// the client under clientID) or the gateway's own (answered on ch).
type pend struct {
	m        *member
	clientID json.RawMessage
	ch       chan *pipeline.Message
	method   string // the client's request's: its answer may carry task ids and URIs
	// asked is the URI a resources/read named as the client knows it, own
	// the server's own of it (see sessionURIs).
	asked, own string
}

// serverReq is a server's request to the client under a gateway id.
type serverReq struct {
	m  *member
	id json.RawMessage
}

func newConn(f *Federation, r upstream.Receiver) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{f: f, r: r, ctx: ctx, cancel: cancel,
		pending: make(map[string]*pend), byClient: make(map[string]string),
		serverReqs: make(map[string]serverReq), timers: make(map[kind]*time.Timer), gone: make(map[string]int),
		subs: make(map[string]Ref)}
	c.members = make([]*member, len(f.names))
	for i := range f.names {
		c.members[i] = &member{c: c, idx: i, name: f.names[i], vis: f.filters[i]}
	}
	return c
}

// newID returns a fresh gateway id, as raw JSON: one no request in flight
// has, not even one another instance of a cluster sent (ResumeCall).
func (c *conn) newID() json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		c.nextID++
		if id := strconv.FormatInt(c.nextID, 10); c.pending[id] == nil {
			return json.RawMessage(id)
		}
	}
}

// Send takes one client message.
func (c *conn) Send(ctx context.Context, m *pipeline.Message) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return upstream.ErrClosed
	}
	switch {
	case m.IsResponse():
		return c.answerServer(ctx, m)
	case m.IsNotification():
		return c.notify(ctx, m)
	}
	return c.request(ctx, m)
}

// request dispatches a client request.
func (c *conn) request(ctx context.Context, m *pipeline.Message) error {
	switch m.Method {
	case "initialize":
		c.f.goTracked(func() { c.initialize(ctx, m) })
		return nil
	case "ping":
		c.r.Deliver(pipeline.NewResult(m.ID, nil))
		return nil
	case "tools/list", "prompts/list", "resources/list", "resources/templates/list":
		c.f.goTracked(func() { c.list(ctx, m) })
		return nil
	case "tools/call", "prompts/get", "resources/read", "resources/subscribe", "resources/unsubscribe", "completion/complete":
		if done, err := c.routeNow(ctx, m); done {
			return err
		}
		c.f.goTracked(func() { c.route(ctx, m) })
		return nil
	case "tasks/get", "tasks/result", "tasks/cancel":
		return c.taskRequest(ctx, m)
	case "tasks/list":
		c.f.goTracked(func() { c.listTasks(ctx, m) })
		return nil
	case "logging/setLevel":
		c.noteSession(m.Method, m.Params)
		c.f.goTracked(func() { c.broadcastRequest(ctx, m) })
		return nil
	}
	// Anything else goes to the first live server, as it is.
	for _, mem := range c.members {
		if mem.live() {
			return c.forward(ctx, mem, m, nil)
		}
	}
	c.r.Deliver(pipeline.NewError(m.ID, pipeline.CodeInternalError, "no MCP server of this endpoint is available"))
	return nil
}

// notify passes a client notification on: a cancellation to the server
// that has the request, everything else to every live server.
func (c *conn) notify(ctx context.Context, m *pipeline.Message) error {
	if m.Method == "notifications/cancelled" {
		c.mu.Lock()
		gid, ok := c.byClient[string(m.CancelledRequestID())]
		p := c.pending[gid]
		c.mu.Unlock()
		if !ok || p == nil {
			return nil
		}
		raw, err := pipeline.SetAt(m.Raw, []string{"params", "requestId"}, []byte(gid))
		if err != nil {
			return nil
		}
		return p.m.sendRaw(ctx, raw)
	}
	for _, mem := range c.members {
		if mem.live() && mem.ready() {
			_ = mem.send(ctx, m)
		}
	}
	return nil
}

// answerServer passes the client's answer to a server's request back to
// that server, under the id it asked with.
func (c *conn) answerServer(ctx context.Context, m *pipeline.Message) error {
	c.mu.Lock()
	sr, ok := c.serverReqs[m.IDKey()]
	delete(c.serverReqs, m.IDKey())
	c.mu.Unlock()
	if !ok {
		return nil
	}
	raw, err := pipeline.SetAt(m.Raw, []string{"id"}, sr.id)
	if err != nil {
		return nil
	}
	return sr.m.sendRaw(ctx, raw)
}

// Close ends the session on every server.
func (c *conn) Close() { c.end(false) }

// end closes the session's connections: with detach, leaving the servers'
// sessions alive for another instance of a cluster (join.go).
func (c *conn) end(detach bool) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	for _, t := range c.timers {
		t.Stop()
	}
	c.mu.Unlock()
	c.cancel()
	for _, m := range c.members {
		if detach {
			m.detach()
		} else {
			m.close()
		}
	}
}

// Listen passes the client's listening on to every server's connection.
func (c *conn) Listen(on bool) {
	for _, m := range c.members {
		if l, ok := m.conn().(upstream.Listener); ok {
			l.Listen(on)
		}
	}
}

// Interface guards.
var (
	_ upstream.Conn     = (*conn)(nil)
	_ upstream.Listener = (*conn)(nil)
)

// detach is ctx's values (the client's Authorization and placeholders, for
// the upstream requests made for the client's request) without its end,
// bounded by the session and by d instead: the work goes on after Send
// returned.
func (c *conn) detach(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	out, cancel := context.WithTimeout(context.WithoutCancel(ctx), d)
	stop := context.AfterFunc(c.ctx, cancel)
	return out, func() {
		stop()
		cancel()
	}
}
