package federate

import (
	"context"
	"encoding/json"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// Bounds of the waits between a left-out server's attempts to rejoin a
// session.
const (
	DefaultRejoinDelay = time.Second
	maxRejoinDelay     = 30 * time.Second
)

// rejoin brings member m back into the session once its server answers
// again: a new session on it, the client's initialize (and log level)
// replayed, and list_changed so that the client lists its names again. It
// tries with growing waits until it succeeds or the session ends; one
// attempt at a time per member.
func (c *conn) rejoin(m *member) {
	m.mu.Lock()
	if m.rejoining {
		m.mu.Unlock()
		return
	}
	m.rejoining = true
	m.mu.Unlock()
	c.f.goTracked(func() {
		defer func() {
			m.mu.Lock()
			m.rejoining = false
			m.mu.Unlock()
		}()
		for wait := c.f.cfg.RejoinDelay; ; wait = min(2*wait, maxRejoinDelay) {
			select {
			case <-c.ctx.Done():
				return
			case <-time.After(wait):
			}
			if c.tryRejoin(m) {
				c.f.log.Info("a federated server rejoined the session", zap.String("server", m.name))
				c.listChanged(m, allKinds...)
				return
			}
		}
	})
}

// tryRejoin makes one attempt: it reports whether m is in the session again.
func (c *conn) tryRejoin(m *member) bool {
	ctx, cancel := context.WithTimeout(c.ctx, c.f.cfg.InitTimeout)
	defer cancel()
	c.mu.Lock()
	params, level := c.initParams, c.logLevel
	c.mu.Unlock()
	up, err := c.f.cfg.Servers[m.idx].Upstream.Open(ctx, m)
	if err != nil {
		return false
	}
	c.mu.Lock() // Close, which closes the members' connections, is ordered with this
	closed := c.closed
	if !closed {
		m.mu.Lock()
		m.up, m.down, m.initialized = up, false, false
		m.mu.Unlock()
	}
	c.mu.Unlock()
	if closed {
		up.Close()
		return false
	}
	ans, err := c.call(ctx, m, "initialize", params)
	if err != nil || ans.Error != nil || ans.Result == nil {
		if m.markDown() {
			up.Close()
		}
		return false
	}
	_ = m.send(ctx, pipeline.NewNotification("notifications/initialized", nil))
	if level != nil {
		_, _ = c.call(ctx, m, "logging/setLevel", level)
	}
	for _, uri := range c.subscriptionsOf(m) {
		_, _ = c.call(ctx, m, "resources/subscribe", map[string]string{"uri": uri})
	}
	m.setInitialized(ans.Result)
	return m.ready()
}

// noteSession keeps what a rejoin replays: the client's initialize params
// and the log level it set.
func (c *conn) noteSession(method string, params json.RawMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch method {
	case "initialize":
		c.initParams = params
	case "logging/setLevel":
		c.logLevel = params
	}
}

// noteSubscription keeps the client's resource subscriptions by server,
// for a rejoin to replay.
func (c *conn) noteSubscription(m *member, msg *pipeline.Message) {
	if msg.Method != "resources/subscribe" && msg.Method != "resources/unsubscribe" {
		return
	}
	uri, own := msg.Target(), msg.Target()
	if ref, ok := c.uriOwner(uri, false); ok && ref.Server == m.idx {
		own = ref.Own
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if msg.Method == "resources/unsubscribe" {
		delete(c.subs, uri)
		return
	}
	c.subs[uri] = Ref{Server: m.idx, Own: own}
}

// subscriptionsOf is the URIs, as the server knows them, the client
// subscribed to on m's server.
func (c *conn) subscriptionsOf(m *member) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var uris []string
	for _, r := range c.subs {
		if r.Server == m.idx {
			uris = append(uris, r.Own)
		}
	}
	return uris
}

// subscribedAs is the URI the client subscribed to server i's own URI
// by, if it did.
func (c *conn) subscribedAs(i int, own string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for uri, r := range c.subs {
		if r.Server == i && r.Own == own {
			return uri, true
		}
	}
	return "", false
}
