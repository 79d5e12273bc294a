//lint:file-ignore SA1019 sampling is deprecated from 2026-07-28 on, and still part of the 2025 revisions a federation must carry to its client.

package federate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/remote"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// peer is a real go-sdk MCP server behind an HTTP upstream.
type peer struct {
	srv        *mcp.Server
	cancelled  chan struct{} // the ask tool's request was cancelled
	subscribed chan string   // the URIs of resources/subscribe
	ts         *httptest.Server
	up         *remote.HTTP
}

type textArgs struct {
	Text string `json:"text"`
}

// newPeer starts a go-sdk server named name with a tool echo (and
// own_<name>), a prompt greet, a resource <name>://readme and a template
// <name>://items/{id}; pageSize 1 makes every list one item a page.
// Each of opts may change the server's options and its HTTP handler's
// before they are used.
func newPeer(t testing.TB, name string, pageSize int, opts ...func(*mcp.ServerOptions, *mcp.StreamableHTTPOptions)) *peer {
	t.Helper()
	subscribed := make(chan string, 8)
	so := &mcp.ServerOptions{PageSize: pageSize, Instructions: "use " + name,
		SubscribeHandler: func(_ context.Context, r *mcp.SubscribeRequest) error {
			subscribed <- r.Params.URI
			return nil
		},
		UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
	}
	ho := &mcp.StreamableHTTPOptions{}
	for _, o := range opts {
		o(so, ho)
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: name, Version: "1"}, so)
	cancelled := make(chan struct{}, 1)
	for _, tool := range []string{"echo", "own_" + name} { // ask is added below
		mcp.AddTool(srv, &mcp.Tool{Name: tool}, func(_ context.Context, _ *mcp.CallToolRequest, a textArgs) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name + ":" + tool + ":" + a.Text}}}, nil, nil
		})
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "ask"}, func(ctx context.Context, req *mcp.CallToolRequest, _ textArgs) (*mcp.CallToolResult, any, error) {
		if tok := req.Params.GetProgressToken(); tok != nil {
			_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 1, Message: name})
		}
		res, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{MaxTokens: 9,
			Messages: []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: "question from " + name}}}})
		if err != nil {
			if ctx.Err() != nil {
				cancelled <- struct{}{}
			}
			return nil, nil, err
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name + " heard " + res.Content.(*mcp.TextContent).Text}}}, nil, nil
	})
	srv.AddPrompt(&mcp.Prompt{Name: "greet"}, func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{Description: "greet from " + name, Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "hi"}}}}, nil
	})
	read := func(_ context.Context, r *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: r.Params.URI, Text: name + " has " + r.Params.URI}}}, nil
	}
	srv.AddResource(&mcp.Resource{Name: "readme", URI: name + "://readme"}, read)
	srv.AddResourceTemplate(&mcp.ResourceTemplate{Name: "item", URITemplate: name + "://items/{id}"}, read)
	ts := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, ho))
	up, err := remote.NewHTTP(remote.Config{URL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{srv: srv, cancelled: cancelled, subscribed: subscribed, ts: ts, up: up}
	t.Cleanup(func() {
		up.Wait()
		up.CloseIdleConnections()
		ts.Close()
	})
	return p
}

// client is a test's side of a federated session: it sends requests and
// keeps what the gateway delivers.
type client struct {
	t    *testing.T
	conn upstream.Conn
	f    *Federation

	mu      sync.Mutex
	waiters map[string]chan *pipeline.Message
	notes   chan *pipeline.Message // notifications and server requests
	closed  chan error
	nextID  int
}

func (c *client) Deliver(m *pipeline.Message) {
	if !m.IsResponse() {
		c.notes <- m
		return
	}
	c.mu.Lock()
	ch := c.waiters[m.IDKey()]
	delete(c.waiters, m.IDKey())
	c.mu.Unlock()
	if ch != nil {
		ch <- m
	}
}

func (c *client) Closed(err error) { c.closed <- err }

// open opens a federated session over peers named names and initializes it.
func open(t *testing.T, mode Prefix, names []string, ups []upstream.Upstream) *client {
	t.Helper()
	cfg := Config{Prefix: mode, ServerName: "Acme tools"}
	for i, n := range names {
		cfg.Servers = append(cfg.Servers, Server{Name: n, Upstream: ups[i]})
	}
	return openConfig(t, cfg)
}

// openConfig opens a federated session of cfg.
func openConfig(t *testing.T, cfg Config) *client {
	t.Helper()
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, f: f, waiters: map[string]chan *pipeline.Message{}, notes: make(chan *pipeline.Message, 64), closed: make(chan error, 1)}
	c.conn, err = f.Open(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.conn.Close()
		f.Wait()
	})
	return c
}

// call sends a request and returns its answer.
func (c *client) call(method string, params any) *pipeline.Message {
	c.t.Helper()
	c.mu.Lock()
	c.nextID++
	id := fmt.Sprintf(`"c%d"`, c.nextID)
	ch := make(chan *pipeline.Message, 1)
	c.waiters[id] = ch
	c.mu.Unlock()
	p, _ := json.Marshal(params)
	msg, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":` + id + `,"method":"` + method + `","params":` + string(p) + `}`))
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.conn.Send(context.Background(), msg); err != nil {
		c.t.Fatal(err)
	}
	select {
	case ans := <-ch:
		if ans.IDKey() != id {
			c.t.Fatalf("answer id %s, want %s", ans.ID, id)
		}
		return ans
	case <-time.After(20 * time.Second): // a hang guard, not a timing assertion
		c.t.Fatalf("%s: no answer", method)
		return nil
	}
}

// result decodes a successful answer's result into v.
func (c *client) result(method string, params, v any) {
	c.t.Helper()
	ans := c.call(method, params)
	if ans.Error != nil {
		c.t.Fatalf("%s: error %s", method, ans.Error)
	}
	if err := json.Unmarshal(ans.Result, v); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) initialize() map[string]any {
	var res map[string]any
	c.result("initialize", map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{},
		"clientInfo": map[string]string{"name": "test", "version": "1"}}, &res)
	msg, _ := pipeline.Parse([]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`))
	_ = c.conn.Send(context.Background(), msg)
	return res
}

// names lists every page of a list method and returns the items' key.
func (c *client) names(method, field, key string) []string {
	var out []string
	cursor := ""
	for range 100 {
		params := map[string]any{}
		if cursor != "" {
			params["cursor"] = cursor
		}
		var res map[string]json.RawMessage
		c.result(method, params, &res)
		var items []map[string]any
		_ = json.Unmarshal(res[field], &items)
		for _, it := range items {
			out = append(out, fmt.Sprint(it[key]))
		}
		cursor = ""
		_ = json.Unmarshal(res["nextCursor"], &cursor)
		if cursor == "" {
			return out
		}
	}
	c.t.Fatal("the pages never end")
	return nil
}

// text is the first text content of a tool result, a prompt's description
// or a resource's text.
func text(t *testing.T, ans *pipeline.Message) string {
	t.Helper()
	if ans.Error != nil {
		t.Fatalf("error %s", ans.Error)
	}
	var r struct {
		Content     []struct{ Text string } `json:"content"`
		Contents    []struct{ Text string } `json:"contents"`
		Description string                  `json:"description"`
	}
	_ = json.Unmarshal(ans.Result, &r)
	switch {
	case len(r.Content) > 0:
		return r.Content[0].Text
	case len(r.Contents) > 0:
		return r.Contents[0].Text
	}
	return r.Description
}

// killable wraps a real upstream so that a test can end its sessions as a
// crashed server would (fault injection).
type killable struct {
	upstream.Upstream
	mu    sync.Mutex
	conns []*killConn
	gate  chan struct{} // once killed, an Open waits for it (the server restarting)
}

type killConn struct {
	upstream.Conn
	r upstream.Receiver
}

func (k *killable) Open(ctx context.Context, r upstream.Receiver) (upstream.Conn, error) {
	k.mu.Lock()
	gate := k.gate
	k.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c, err := k.Upstream.Open(ctx, r)
	if err != nil {
		return nil, err
	}
	kc := &killConn{Conn: c, r: r}
	k.mu.Lock()
	k.conns = append(k.conns, kc)
	k.mu.Unlock()
	return kc, nil
}

func (k *killable) kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.gate = make(chan struct{})
	conns := k.conns
	k.conns = nil
	for _, c := range conns {
		c.Conn.Close()
		c.r.Closed(errors.New("the process exited"))
	}
}

// restart lets Opens through again.
func (k *killable) restart() {
	k.mu.Lock()
	defer k.mu.Unlock()
	close(k.gate)
	k.gate = nil
}
