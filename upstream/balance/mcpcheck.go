package balance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// healthClientInfo names the gateway's health checks to the server.
const healthClientInfo = `{"name":"caddy-mcp-health-check","version":"1"}`

// MCPCheck returns an active check that speaks MCP: a server of the
// 2026-07-28 revision answers server/discover; one of the 2025 revisions
// gets a session of its own — initialize, ping, and the session's end (for
// HTTP, a DELETE). The check remembers which the server is.
func MCPCheck() Checker {
	var sessionful atomic.Bool
	return func(ctx context.Context, up upstream.Upstream) error {
		if st, ok := up.(upstream.Stateless); ok && !sessionful.Load() {
			err := discover(ctx, st)
			if !errors.Is(err, errNotStateless) {
				return err
			}
			sessionful.Store(true)
		}
		return sessionCheck(ctx, up)
	}
}

// errNotStateless means the server does not serve 2026-07-28 requests.
var errNotStateless = errors.New("the server speaks only the 2025 revisions")

// discover asks a 2026 server for server/discover.
func discover(ctx context.Context, st upstream.Stateless) error {
	// Every 2026-07-28 request carries its revision and capabilities in
	// _meta; a server refuses one without them (-32602), which would make
	// every check of a 2026 server fall back to a session.
	req, _ := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":"health","method":"server/discover","params":{"_meta":{` +
		`"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},` +
		`"io.modelcontextprotocol/clientInfo":` + healthClientInfo + `}}}`))
	var answer *pipeline.Message
	// An HTTP server checks the mirrored headers against the body (-32020
	// without them), as it does for a client's request.
	header := http.Header{"Mcp-Protocol-Version": {"2026-07-28"}, "Mcp-Method": {"server/discover"}}
	err := st.Call(ctx, &upstream.StatelessRequest{Message: req, Header: header}, func(m *pipeline.Message, _ int) {
		if m.IsResponse() {
			answer = m
		}
	})
	switch {
	case errors.Is(err, upstream.ErrSessionfulOnly):
		return errNotStateless
	case err != nil:
		return err
	case answer == nil:
		return errors.New("server/discover: no answer")
	case upstream.GatewayStatus(answer) != 0:
		return fmt.Errorf("server/discover: %s", errorMessage(answer.Error))
	case answer.Error != nil:
		return errNotStateless // a 2025 server: method not found, or a version it refuses
	}
	return nil
}

// sessionCheck runs initialize and ping on a session of the check's own,
// then ends it.
func sessionCheck(ctx context.Context, up upstream.Upstream) error {
	r := &checkReceiver{answers: make(chan *pipeline.Message, 4), closed: make(chan error, 1)}
	conn, err := up.Open(ctx, r)
	if err != nil {
		return fmt.Errorf("opening a session: %w", err)
	}
	defer conn.Close()
	steps := []struct{ name, msg string }{
		{"initialize", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":` + healthClientInfo + `}}`},
		{"", `{"jsonrpc":"2.0","method":"notifications/initialized"}`},
		{"ping", `{"jsonrpc":"2.0","id":2,"method":"ping"}`},
	}
	for _, step := range steps {
		m, _ := pipeline.Parse([]byte(step.msg))
		if err := conn.Send(ctx, m); err != nil {
			return fmt.Errorf("sending %s: %w", cmpName(step.name), err)
		}
		if step.name == "" {
			continue
		}
		select {
		case a := <-r.answers:
			if a.Error != nil {
				return fmt.Errorf("%s: %s", step.name, errorMessage(a.Error))
			}
		case err := <-r.closed:
			return fmt.Errorf("%s: the server ended the session: %v", step.name, err)
		case <-ctx.Done():
			return fmt.Errorf("%s: no answer in time", step.name)
		}
	}
	return nil
}

func cmpName(n string) string {
	if n == "" {
		return "notifications/initialized"
	}
	return n
}

// checkReceiver takes a check session's answers; everything else the
// server says is dropped.
type checkReceiver struct {
	answers chan *pipeline.Message
	closed  chan error
}

// Deliver keeps responses (upstream.Receiver).
func (r *checkReceiver) Deliver(m *pipeline.Message) {
	if m.IsResponse() {
		select {
		case r.answers <- m:
		default:
		}
	}
}

// Closed reports the session's end (upstream.Receiver).
func (r *checkReceiver) Closed(err error) {
	select {
	case r.closed <- err:
	default:
	}
}

// errorMessage is the message of a JSON-RPC error object.
func errorMessage(raw json.RawMessage) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &e) != nil || e.Message == "" {
		return "an error without a message"
	}
	return e.Message
}
