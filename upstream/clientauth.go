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

// ClientAuthorization returns the Authorization ctx carries, if any (see
// WithClientAuthorization).
func ClientAuthorization(ctx context.Context) (string, bool) {
	v, ok := ctx.Value(clientAuthKey{}).(string)
	return v, ok
}
