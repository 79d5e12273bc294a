package remote

import (
	"context"

	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// carryAuthorization hands the client's Authorization of from (a Send's
// context) to to (the context of the upstream request made for it), and
// remembers it for the requests the conn makes on its own (the GET
// stream, the DELETE at the end). It does nothing unless the upstream
// forwards the client's Authorization.
func (c *httpConn) carryAuthorization(from, to context.Context) context.Context {
	if !c.h.cfg.PassAuthorization {
		return to
	}
	auth, ok := upstream.ClientAuthorization(from)
	if !ok {
		return to
	}
	if auth != "" {
		c.mu.Lock()
		c.lastAuth, c.haveAuth = auth, true
		c.mu.Unlock()
	}
	return upstream.WithClientAuthorization(to, auth)
}

// authorizationFor returns the client Authorization for an upstream
// request with context ctx: the one of the client request it serves, else
// the latest one a client request carried; ok is false when there is none
// (the configured headers, evaluated at initialize, then stand: a request
// without Authorization does not take away a header_up one).
func (c *httpConn) authorizationFor(ctx context.Context) (auth string, ok bool) {
	if !c.h.cfg.PassAuthorization {
		return "", false
	}
	if auth, ok := upstream.ClientAuthorization(ctx); ok {
		return auth, auth != ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastAuth, c.haveAuth
}
