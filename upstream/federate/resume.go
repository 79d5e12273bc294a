package federate

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// A client's request resumed on another instance of a cluster: its server
// knows it by the gateway id the first instance gave it, which the event
// ids of its answer stream carry (named), so that the instance that goes
// on with it reads that server's stream and hands the answer to the client
// under the client's id, as the first instance would have.

// errNotResumable: the event id names no server stream this session can
// resume.
var errNotResumable = errors.New("federate: the event id names no stream of this session's servers")

// named is msg with its upstream event id naming the server, for a
// cluster's resume: <server>:<event id> on the server's standalone stream
// (ResumeGet), <server>:<gateway id>:<event id> on the stream that answers
// the gateway's request gid (ResumeCall).
func (m *member) named(msg *pipeline.Message, gid json.RawMessage) *pipeline.Message {
	switch {
	case msg.EventID == "":
	case gid != nil && !msg.OnGetStream:
		msg.EventID = m.name + ":" + string(gid) + ":" + msg.EventID
	default:
		msg.EventID = m.name + ":" + msg.EventID
	}
	return msg
}

// ResumeCall reads, after the event id, the stream of the server and the
// gateway id named made it name, and hands what it carries to the client
// as call's: the answer under the client's id (upstream.CallResumer).
func (c *conn) ResumeCall(ctx context.Context, eventID string, call upstream.ResumedCall) error {
	server, rest, _ := strings.Cut(eventID, ":")
	gid, id, ok := strings.Cut(rest, ":")
	m := c.memberNamed(server)
	if !ok || m == nil || !isGatewayID(gid) {
		return errNotResumable
	}
	r, ok := m.conn().(upstream.StreamResumer)
	if !ok {
		return errNotResumable
	}
	p := &pend{m: m, clientID: call.ID, method: call.Method}
	if call.Method == "resources/read" {
		p.asked, p.own = call.Target, c.ownURI(m, call.Target)
	}
	c.mu.Lock()
	if c.closed || c.pending[gid] != nil {
		c.mu.Unlock()
		return errNotResumable
	}
	c.pending[gid] = p
	c.byClient[string(call.ID)] = gid // the client's cancellation reaches the server
	c.mu.Unlock()
	raw := json.RawMessage(gid)
	err := r.ResumeStream(ctx, id, func(msg *pipeline.Message) { c.fromServer(m, m.named(msg, raw), raw) })
	if err != nil {
		c.take(gid, m)
	}
	return err
}

// isGatewayID says whether s is an id newID makes.
func isGatewayID(s string) bool {
	if s == "" || len(s) > 19 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ownURI is member m's own URI of the resource the client reads as uri, as
// far as this session's lists tell (else uri).
func (c *conn) ownURI(m *member, uri string) string {
	if ref, ok := c.uriOwner(uri, false); ok && ref.Server == m.idx {
		return ref.Own
	}
	return uri
}

var _ upstream.CallResumer = (*conn)(nil)
