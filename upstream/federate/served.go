package federate

import "github.com/caddy-mcp/caddy-mcp/upstream"

var _ upstream.FederatedConn = (*conn)(nil)

// ServedServers names each server of the session and what serves it
// there, for the admin API and the console.
func (c *conn) ServedServers() []upstream.ServedServer {
	out := make([]upstream.ServedServer, len(c.members))
	for i, m := range c.members {
		m.mu.Lock()
		up, down := m.up, m.down || !m.initialized
		m.mu.Unlock()
		s := upstream.ServedServer{Name: m.name, Upstream: c.f.cfg.Servers[i].Upstream, Down: down}
		if pc, ok := up.(upstream.ProcessConn); ok {
			s.PID = pc.PID()
		}
		if sc, ok := up.(upstream.ServedConn); ok {
			s.Replica, s.Upstream = sc.ServedBy()
		}
		out[i] = s
	}
	return out
}

// Resolve names the server a request goes to, and its own name for what
// the request names, by this session's lists: the owner the session's
// router sends it to without reading the lists again (route.go). A name
// the session has not listed gives "" for both: rules on servers then
// apply (fail closed), since the router may yet find it anywhere.
func (c *conn) Resolve(method, target string) (server, own string) {
	switch method {
	case "tools/call", "prompts/get":
		k := kTools
		if method == "prompts/get" {
			k = kPrompts
		}
		if ref, ok := c.current(k).table.Resolve(target); ok {
			return c.f.names[ref.Server], ref.Own
		}
	case "resources/read", "resources/subscribe", "resources/unsubscribe", "completion/complete":
		if ref, ok := c.uriOwner(target, method == "completion/complete"); ok {
			return c.f.names[ref.Server], ref.Own
		}
	}
	return "", ""
}
