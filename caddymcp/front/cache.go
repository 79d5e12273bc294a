package front

import (
	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// useCache sets the Server's 2026-07-28 upstream, behind the cache when
// there is one, and lets the cache hear what sessions receive: a
// list_changed on a session's stream invalidates what 2026 clients get too
// (for every server of the endpoint, since a session does not know the
// cache's server key).
func (s *Server) useCache() {
	st, ok := s.cfg.Upstream.(upstream.Stateless)
	if !ok {
		return
	}
	s.stateless = st
	if c := s.cfg.Cache; c != nil {
		s.stateless = c.Upstream(st, s.cfg.CacheServer)
		s.settings.heard = func(m *pipeline.Message) { c.Heard(m, "") }
	}
}

// keepCached marks out, which the gateway rebuilt from m, as cached when m
// was.
func keepCached(m, out *pipeline.Message) *pipeline.Message {
	out.Cached = m.Cached
	return out
}
