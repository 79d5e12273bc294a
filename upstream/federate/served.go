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
