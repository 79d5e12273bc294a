package federate

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// member is a session's connection to one server. It is that
// connection's Receiver.
type member struct {
	c    *conn
	idx  int
	name string
	vis  *visibility

	mu          sync.Mutex
	up          upstream.Conn
	down        bool // failed, or left out
	initialized bool // answered the session's initialize
	rejoining   bool // a rejoin goroutine owns bringing it back
	listsTasks  bool // its initialize offered tasks/list (2025-11-25)
}

// initialized notes that m answered the session's initialize with result.
func (m *member) setInitialized(result json.RawMessage) {
	_, lists := pipeline.ValueAt(result, []string{"capabilities", "tasks", "list"})
	m.mu.Lock()
	defer m.mu.Unlock()
	m.initialized, m.listsTasks = !m.down, lists
}

func (m *member) setConn(up upstream.Conn) {
	m.mu.Lock()
	m.up = up
	m.mu.Unlock()
}

func (m *member) conn() upstream.Conn {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.up
}

func (m *member) live() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.down && m.up != nil
}

func (m *member) ready() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.initialized && !m.down
}

// offersTaskList reports whether m is in the session and offered
// tasks/list.
func (m *member) offersTaskList() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.initialized && !m.down && m.listsTasks
}

// markDown takes the member out of the session; it reports whether it
// was in.
func (m *member) markDown() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	was := !m.down
	m.down = true
	return was
}

func (m *member) close() {
	if up := m.conn(); up != nil {
		up.Close()
	}
}

// errUnavailable is a send to a member that is not in the session.
var errUnavailable = errors.New("the server is not available")

func (m *member) send(ctx context.Context, msg *pipeline.Message) error {
	up := m.conn()
	if up == nil || !m.live() {
		return errUnavailable
	}
	return up.Send(ctx, msg)
}

func (m *member) sendRaw(ctx context.Context, raw []byte) error {
	msg, err := pipeline.Parse(raw)
	if err != nil {
		return err
	}
	return m.send(ctx, msg)
}

// Deliver takes one message from the server (upstream.Receiver).
func (m *member) Deliver(msg *pipeline.Message) { m.c.fromServer(m, m.named(msg, nil), nil) }

// DeliverRelated takes a message the server relates to one of the
// gateway's requests (upstream.RelatedReceiver).
func (m *member) DeliverRelated(msg *pipeline.Message, requestID json.RawMessage) {
	m.c.fromServer(m, m.named(msg, requestID), requestID)
}

// Closed reports that the server's side of the session ended.
func (m *member) Closed(err error) { m.c.memberFailed(m, err) }

// forward sends a client request to member m under a gateway id, with
// params replaced when params is not nil; the answer goes to the client
// under its own id.
func (c *conn) forward(ctx context.Context, m *member, msg *pipeline.Message, params json.RawMessage) error {
	gid := c.newID()
	raw, err := pipeline.SetAt(msg.Raw, []string{"id"}, gid)
	if err == nil && params != nil {
		raw, err = pipeline.SetAt(raw, []string{"params"}, params)
	}
	if err != nil {
		c.r.Deliver(pipeline.NewError(msg.ID, pipeline.CodeInternalError, "the gateway could not rewrite the request"))
		return nil
	}
	c.mu.Lock()
	p := &pend{m: m, clientID: msg.ID, method: msg.Method}
	p.asked, p.own = readURIs(msg, params)
	c.pending[string(gid)] = p
	c.byClient[msg.IDKey()] = string(gid)
	c.mu.Unlock()
	if err := m.sendRaw(ctx, raw); err != nil && c.take(string(gid), m) != nil {
		// Answered here, once: the front must not answer it again.
		c.r.Deliver(unavailable(msg.ID, m.name))
	}
	return nil
}

// call makes a request of the gateway's own to member m and waits for the
// answer, the member's failure or the end of ctx.
func (c *conn) call(ctx context.Context, m *member, method string, params any) (*pipeline.Message, error) {
	gid := c.newID()
	p, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	raw := `{"jsonrpc":"2.0","id":` + string(gid) + `,"method":` + strconv.Quote(method) + `,"params":` + string(p) + `}`
	ch := make(chan *pipeline.Message, 1)
	c.mu.Lock()
	c.pending[string(gid)] = &pend{m: m, ch: ch}
	c.mu.Unlock()
	if err := m.sendRaw(ctx, []byte(raw)); err != nil {
		c.take(string(gid), m)
		return nil, err
	}
	select {
	case ans := <-ch:
		if ans == nil {
			return nil, errUnavailable
		}
		return ans, nil
	case <-ctx.Done():
		c.take(string(gid), m)
		return nil, ctx.Err()
	}
}

// take removes and returns the request in flight on member m under gid
// (nil when there is none: another member's id is not m's to answer).
func (c *conn) take(gid string, m *member) *pend {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending[gid]
	if p == nil || p.m != m {
		return nil
	}
	delete(c.pending, gid)
	if p != nil && p.clientID != nil {
		delete(c.byClient, string(p.clientID))
	}
	return p
}

// unavailable is the error a client's request gets when the server that
// owns its name is not in the session: it names the server as the
// operator did, never its address or command.
func unavailable(id json.RawMessage, server string) *pipeline.Message {
	return pipeline.NewError(id, pipeline.CodeInternalError, "the MCP server "+strconv.Quote(server)+" of this endpoint is unavailable")
}
