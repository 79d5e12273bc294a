package upstream

import (
	"context"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// AwaitedSender is a Conn that can send a request whose caller, once the
// send returns, does nothing but wait for that request's answer (a client
// POST that carries this one request). It may then make the exchange on the
// caller's goroutine as far as that goes without waiting on the server for
// long, which spares a goroutine hand-off each way per call (issue 27).
// A Conn that wraps others implements it only where one client request
// stays one request to one server: a layer that fans a request out (a
// federation) does not, so none of its requests holds up the next.
type AwaitedSender interface {
	SendAwaited(ctx context.Context, m *pipeline.Message) error
}

// SendAwaited sends m on conn as an awaited request when conn can (see
// AwaitedSender), else with Send.
func SendAwaited(ctx context.Context, conn Conn, m *pipeline.Message) error {
	if a, ok := conn.(AwaitedSender); ok {
		return a.SendAwaited(ctx, m)
	}
	return conn.Send(ctx, m)
}
