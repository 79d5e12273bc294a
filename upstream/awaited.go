package upstream

import "context"

// awaitedKey marks a Send whose caller waits for the request's answer and
// for nothing else once Send returns.
type awaitedKey struct{}

// WithAwaited returns ctx for the Send of a request whose caller, once Send
// returns, does nothing but wait for that request's answer (a client POST
// that carries this one request). An upstream may then make the exchange on
// the caller's goroutine as far as it goes without waiting on the server for
// long, which spares a goroutine hand-off each way per call (issue 27). A
// caller that sends other messages after this one, or that fans one message
// out to several servers, must not pass it on (see WithoutAwaited).
func WithAwaited(ctx context.Context) context.Context {
	return context.WithValue(ctx, awaitedKey{}, true)
}

// WithoutAwaited returns ctx without the mark of WithAwaited, for a layer
// that sends one client request as several.
func WithoutAwaited(ctx context.Context) context.Context {
	if !Awaited(ctx) {
		return ctx
	}
	return context.WithValue(ctx, awaitedKey{}, false)
}

// Awaited reports whether ctx carries the mark of WithAwaited.
func Awaited(ctx context.Context) bool {
	v, _ := ctx.Value(awaitedKey{}).(bool)
	return v
}
