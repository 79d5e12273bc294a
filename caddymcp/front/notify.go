package front

import (
	"encoding/json"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// Notify sends a notification of the gateway's own (a tools list that
// changed because an operator approved a tool definition), to every live
// session, as if its server had sent it: it passes the session's pipeline
// and goes to the session's GET stream, whose buffer holds it until a
// client listens. 2026-07-28 requests have no session and do not hear it.
// Each session gets a message of its own, as stages may keep what they see.
func (st *Store) Notify(method string, params json.RawMessage) {
	st.mu.Lock()
	sessions := make([]*Session, 0, len(st.sessions))
	for _, s := range st.sessions {
		sessions = append(sessions, s)
	}
	st.mu.Unlock()
	for _, s := range sessions {
		if !s.isClosed() {
			s.Deliver(pipeline.NewNotification(method, params))
		}
	}
}
