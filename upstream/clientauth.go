package upstream

import "context"

// clientAuthKey is the context key of the client request's Authorization.
type clientAuthKey struct{}

// WithClientAuthorization returns ctx carrying the Authorization header
// value of the client request it serves ("" for a request without one). An
// HTTP upstream with PassAuthorization sends that value with the requests
// it makes for the client request, in place of the one the session started
// with, so a client that refreshes its token is not held to the first one.
func WithClientAuthorization(ctx context.Context, authorization string) context.Context {
	return context.WithValue(ctx, clientAuthKey{}, authorization)
}

// clientAuthorization returns the Authorization ctx carries, if any.
func clientAuthorization(ctx context.Context) (string, bool) {
	v, ok := ctx.Value(clientAuthKey{}).(string)
	return v, ok
}

// carryAuthorization hands the client's Authorization of from (a Send's
// context) to to (the context of the upstream request made for it), and
// remembers it for the requests the conn makes on its own (the GET
// stream, the DELETE at the end). It does nothing unless the upstream
// forwards the client's Authorization.
func (c *httpConn) carryAuthorization(from, to context.Context) context.Context {
	if !c.h.cfg.PassAuthorization {
		return to
	}
	auth, ok := clientAuthorization(from)
	if !ok {
		return to
	}
	if auth != "" {
		c.mu.Lock()
		c.lastAuth, c.haveAuth = auth, true
		c.mu.Unlock()
	}
	return WithClientAuthorization(to, auth)
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
	if auth, ok := clientAuthorization(ctx); ok {
		return auth, auth != ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastAuth, c.haveAuth
}
