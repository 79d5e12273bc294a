package federate

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// Call serves one 2026-07-28 request (upstream.Stateless) as one server
// made of the federation's: server/discover and the lists are merged,
// tools/call, prompts/get, resources/read and completion/complete go to the
// server that owns the name under its own name, ping is answered here, and
// subscriptions/listen listens on every server.
//
// The servers are one era to the client: when one of them speaks only the
// 2025 revisions, a request that needs it (discover, a list) returns
// upstream.ErrSessionfulOnly, and the client falls back to a session, in
// which every server takes part. A server that fails is left out, as in a
// session.
func (f *Federation) Call(ctx context.Context, req *upstream.StatelessRequest, deliver func(m *pipeline.Message, status int)) error {
	m := req.Message
	if !m.IsRequest() {
		f.notifyAll(ctx, req)
		return nil
	}
	switch m.Method {
	case "server/discover":
		return f.discover(ctx, req, deliver)
	case "ping":
		deliver(pipeline.NewResult(m.ID, json.RawMessage(`{}`)), http.StatusOK)
		return nil
	case "tools/call", "prompts/get", "resources/read", "completion/complete":
		return f.routeStateless(ctx, req, deliver)
	case "subscriptions/listen":
		return f.listen(ctx, req, deliver)
	case "tasks/get", "tasks/update", "tasks/cancel":
		return f.taskRequest(ctx, req, deliver)
	}
	if _, ok := methodKind[m.Method]; ok {
		return f.listStateless(ctx, req, deliver)
	}
	deliver(pipeline.NewError(m.ID, pipeline.CodeMethodNotFound, "Method not found: "+strconv.Quote(m.Method)), http.StatusOK)
	return nil
}

// stateless is server i's 2026-07-28 side, nil when it has none.
func (f *Federation) stateless(i int) upstream.Stateless {
	st, _ := f.cfg.Servers[i].Upstream.(upstream.Stateless)
	return st
}

// ask makes a request of the gateway's own to server i for req's client:
// the client's _meta (its revision and capabilities), headers and user go
// with it, and only the response is kept. A server that speaks only the
// 2025 revisions gives upstream.ErrSessionfulOnly.
func (f *Federation) ask(ctx context.Context, i int, req *upstream.StatelessRequest, method string, params map[string]any) (*pipeline.Message, error) {
	st := f.stateless(i)
	if st == nil {
		return nil, upstream.ErrSessionfulOnly
	}
	if meta, ok := pipeline.ValueAt(req.Message.Params, []string{"_meta"}); ok {
		params["_meta"] = json.RawMessage(meta)
	}
	p, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	msg, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":1,"method":` + strconv.Quote(method) + `,"params":` + string(p) + `}`))
	if err != nil {
		return nil, err
	}
	var ans *pipeline.Message
	err = st.Call(ctx, &upstream.StatelessRequest{Message: msg, Header: askHeader(req.Header, method), User: req.User},
		func(m *pipeline.Message, _ int) {
			if m.IsResponse() {
				ans = m
			}
		})
	if err == nil && ans == nil {
		err = errUnavailable
	}
	return ans, err
}

// askHeader is the client's mirrored headers for a request of method that
// names nothing: its revision stays, what named the client's request goes.
func askHeader(client http.Header, method string) http.Header {
	h := make(http.Header, 2)
	for k, v := range client {
		if k != "Mcp-Name" && k != "Mcp-Method" && !strings.HasPrefix(k, "Mcp-Param-") {
			h[k] = v
		}
	}
	h.Set("Mcp-Method", method)
	return h
}

// eachServer runs fn for every server at once and waits for all.
func (f *Federation) eachServer(fn func(i int)) {
	var wg sync.WaitGroup
	for i := range f.names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(i)
		}()
	}
	wg.Wait()
}

// notifyAll passes a client's notification to every server that serves
// 2026-07-28 requests; what they answer (202) is not the client's.
func (f *Federation) notifyAll(ctx context.Context, req *upstream.StatelessRequest) {
	f.eachServer(func(i int) {
		if st := f.stateless(i); st != nil {
			_ = st.Call(ctx, req, func(*pipeline.Message, int) {})
		}
	})
}
