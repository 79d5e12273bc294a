package federate

import (
	"encoding/json"
	"strconv"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/tags"
)

// fromServer routes one message of member m: an answer to the request it
// belongs to, a server's request to the client under a gateway id, a
// list_changed into the merged one, anything else to the client as it is.
func (c *conn) fromServer(m *member, msg *pipeline.Message, related json.RawMessage) {
	switch {
	case msg.IsResponse():
		p := c.take(msg.IDKey(), m)
		if p == nil {
			return // cancelled, or not this member's to answer
		}
		if p.ch != nil {
			p.ch <- msg
			return
		}
		msg = tagSessionTasks(msg, p.method, m)
		if mayHoldURIs(msg, p.method) {
			msg = urisForClient(msg, p.method, c.sessionURIs(m, p.asked, p.own))
		}
		c.deliverAs(msg, p.clientID, p.clientID)
	case msg.IsRequest():
		c.mu.Lock()
		c.nextID++
		gid := json.RawMessage(`"s` + strconv.FormatInt(c.nextID, 10) + `"`)
		c.serverReqs[string(gid)] = serverReq{m: m, id: msg.ID}
		c.mu.Unlock()
		c.deliverAs(msg, gid, c.clientIDOf(related))
	default:
		if k, ok := changedKinds[msg.Method]; ok {
			c.listChanged(m, k...)
			return
		}
		switch msg.Method {
		case "notifications/cancelled":
			msg = c.serverCancelled(m, msg)
		case "notifications/message":
			msg = withLogger(m.name, msg)
		case "notifications/tasks/status":
			msg = tags.Notification(msg, m.name, tags.Tasks)
		case "notifications/resources/updated":
			msg = c.updatedForClient(m, msg)
		}
		if msg == nil {
			return
		}
		c.deliver(msg, c.clientIDOf(related))
	}
}

// clientIDOf is the client's id of the gateway's request gid, nil when it
// is the gateway's own or unknown.
func (c *conn) clientIDOf(gid json.RawMessage) json.RawMessage {
	if gid == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.pending[string(gid)]; p != nil {
		return p.clientID
	}
	return nil
}

// deliverAs hands msg to the client with its id replaced by id.
func (c *conn) deliverAs(msg *pipeline.Message, id, related json.RawMessage) {
	raw, err := pipeline.SetAt(msg.Raw, []string{"id"}, id)
	if err != nil {
		return
	}
	out, err := pipeline.Parse(raw)
	if err != nil {
		return
	}
	c.deliver(out, related)
}

// deliver hands msg to the client, related to the client's request
// related when there is one.
func (c *conn) deliver(msg *pipeline.Message, related json.RawMessage) {
	if related != nil {
		if rr, ok := c.r.(upstream.RelatedReceiver); ok {
			rr.DeliverRelated(msg, related)
			return
		}
	}
	c.r.Deliver(msg)
}

// memberFailed takes a server that failed out of the session: its
// requests in flight get an error naming it, its names leave the lists
// (with list_changed), and calls of them get the same error. The session
// ends only when no server is left.
func (c *conn) memberFailed(m *member, err error) {
	if !m.markDown() {
		return
	}
	c.mu.Lock()
	closed := c.closed
	var failed []*pend
	for gid, p := range c.pending {
		if p.m == m {
			failed = append(failed, p)
			delete(c.pending, gid)
			if p.clientID != nil {
				delete(c.byClient, string(p.clientID))
			}
		}
	}
	for _, cat := range c.cats {
		if cat != nil {
			cat.forget(m.idx, c.gone)
		}
	}
	c.mu.Unlock()
	if closed {
		return
	}
	c.f.log.Warn("a federated server's session ended; the client's session goes on without it",
		zap.String("server", m.name), zap.Error(err))
	for _, p := range failed {
		if p.ch != nil {
			p.ch <- nil
		} else {
			c.r.Deliver(unavailable(p.clientID, m.name))
		}
	}
	for _, o := range c.members {
		if o.live() {
			c.listChanged(m, allKinds...)
			c.rejoin(m)
			return
		}
	}
	c.r.Closed(err)
}

// serverCancelled is a server's cancellation of its own request to the
// client, with the gateway id the client knows it by (nil when the client
// never got it).
func (c *conn) serverCancelled(m *member, msg *pipeline.Message) *pipeline.Message {
	id := string(msg.CancelledRequestID())
	c.mu.Lock()
	var gid string
	for g, sr := range c.serverReqs {
		if sr.m == m && string(sr.id) == id {
			gid = g
			delete(c.serverReqs, g)
			break
		}
	}
	c.mu.Unlock()
	if gid == "" {
		return nil
	}
	raw, err := pipeline.SetAt(msg.Raw, []string{"params", "requestId"}, []byte(gid))
	if err != nil {
		return nil
	}
	out, err := pipeline.Parse(raw)
	if err != nil {
		return nil
	}
	return out
}

// withLogger is a server's log message with the server's name in its
// logger ("<server>", or "<server>/<logger>" when it named one), so that
// the client can tell the servers' messages apart.
func withLogger(server string, msg *pipeline.Message) *pipeline.Message {
	logger := server
	if v, ok := pipeline.ValueAt(msg.Params, []string{"logger"}); ok {
		var own string
		if json.Unmarshal(v, &own) == nil && own != "" {
			logger += "/" + own
		}
	}
	params, err := pipeline.SetAt(msg.Params, []string{"logger"}, []byte(strconv.Quote(logger)))
	if err != nil {
		return msg
	}
	return pipeline.NewNotification(msg.Method, params)
}
