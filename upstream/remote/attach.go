package remote

import (
	"context"
	"errors"

	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// Attach returns a connection to the upstream's existing session e
// (upstream.Attacher; e.Member is not read), made as Open makes one (the configured headers are
// evaluated with ctx, once) but past the handshake: requests carry the
// session id and MCP-Protocol-Version, and a GET stream may start at once.
// It sends one ping first, so that a session the server ended fails here
// (ErrSessionEnded), where the caller can answer its client 404, rather
// than on the client's request. Close ends the upstream session (DELETE) as
// for any connection.
func (h *HTTP) Attach(ctx context.Context, r upstream.Receiver, e upstream.Existing) (upstream.Conn, error) {
	if e.SessionID == "" {
		// A server that issued no session id keeps no session to join:
		// the caller opens a new one.
		return nil, errors.New("upstream: Attach needs the server's session id")
	}
	conn, err := h.Open(ctx, r)
	if err != nil {
		return nil, err
	}
	c := conn.(*httpConn)
	c.mu.Lock()
	c.sessionID = e.SessionID
	c.mu.Unlock()
	c.initialized(e.Version)
	if err := c.checkSession(ctx); err != nil {
		c.close(false)
		return nil, err
	}
	return c, nil
}

var _ upstream.Attacher = (*HTTP)(nil)
