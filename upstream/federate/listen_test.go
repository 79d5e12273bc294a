package federate

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// ackSpy tells when its server acknowledged a subscriptions/listen, so
// that a test changes the server only once the server listens.
type ackSpy struct {
	*peer
	acked chan struct{}
}

func (s ackSpy) Open(ctx context.Context, r upstream.Receiver) (upstream.Conn, error) {
	return s.up.Open(ctx, r)
}

func (s ackSpy) Call(ctx context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
	return s.up.Call(ctx, req, func(m *pipeline.Message, status int) {
		deliver(m, status)
		if m.Method == "notifications/subscriptions/acknowledged" {
			s.acked <- struct{}{}
		}
	})
}

// TestStatelessListen: a 2026-07-28 subscriptions/listen listens on every
// server; the client gets one acknowledgement and each server's
// list_changed (which drops the merged list that routes calls), and the
// stream ends when the client goes away.
func TestStatelessListen(t *testing.T) {
	a, b := newPeer(t, "a", 0, modern(0, "public")), newPeer(t, "b", 0, modern(0, "public"))
	acked := make(chan struct{}, 2)
	f, err := New(Config{Servers: []Server{{Name: "a", Upstream: ackSpy{a, acked}}, {Name: "b", Upstream: ackSpy{b, acked}}}})
	if err != nil {
		t.Fatal(err)
	}
	names2026(t, f, "tools/list", "tools", "name", 0, "public") // the merged list routes calls
	if f.known.get("", kTools) == nil {
		t.Fatal("the merged tools list was not kept")
	}
	msg, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":"l","method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true},"_meta":` + meta2026 + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("MCP-Protocol-Version", "2026-07-28")
	h.Set("Mcp-Method", "subscriptions/listen")
	got := make(chan *pipeline.Message, 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- f.Call(ctx, &upstream.StatelessRequest{Message: msg, Header: h}, func(m *pipeline.Message, _ int) { got <- m })
	}()
	<-acked
	<-acked
	for _, p := range []*peer{a, b} {
		mcp.AddTool(p.srv, &mcp.Tool{Name: "new"}, func(context.Context, *mcp.CallToolRequest, textArgs) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{}, nil, nil
		})
	}
	acks, changed := 0, 0
	for changed < 2 {
		var m *pipeline.Message
		select {
		case m = <-got:
		case <-time.After(20 * time.Second): // a hang guard, not a timing assertion
			t.Fatalf("%d list_changed of 2 arrived", changed)
		}
		switch m.Method {
		case "notifications/subscriptions/acknowledged":
			acks++
		case "notifications/tools/list_changed":
			changed++
		default:
			raw, _ := json.Marshal(m)
			t.Errorf("unexpected %s", raw)
		}
	}
	if f.known.get("", kTools) != nil {
		t.Error("a list_changed left the merged tools list that routes calls")
	}
	if acks != 1 {
		t.Errorf("%d acknowledgements reached the client, want 1", acks)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("listen ended with %v, want the client's cancellation", err)
	}
}

// downable is a server that refuses every 2026-07-28 request until it is
// up (fault injection: a server that is down, then restarted).
type downable struct {
	ackSpy
	up     chan struct{} // closed once the server is up
	failed chan struct{} // a request it refused
}

func (d downable) Call(ctx context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
	select {
	case <-d.up:
		return d.ackSpy.Call(ctx, req, deliver)
	default:
	}
	select {
	case d.failed <- struct{}{}:
	default:
	}
	return errors.New("connection refused")
}

// startListen starts a 2026-07-28 subscriptions/listen for tools'
// list_changed on f; what the client gets arrives on the channel, and the
// listen's end on done.
func startListen(t *testing.T, ctx context.Context, f *Federation) (<-chan *pipeline.Message, <-chan error) {
	t.Helper()
	msg, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":"l","method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true},"_meta":` + meta2026 + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("MCP-Protocol-Version", "2026-07-28")
	h.Set("Mcp-Method", "subscriptions/listen")
	got := make(chan *pipeline.Message, 16)
	done := make(chan error, 1)
	go func() {
		done <- f.Call(ctx, &upstream.StatelessRequest{Message: msg, Header: h}, func(m *pipeline.Message, _ int) { got <- m })
	}()
	return got, done
}

// next is the next message the listen's client gets.
func next(t *testing.T, got <-chan *pipeline.Message) *pipeline.Message {
	t.Helper()
	select {
	case m := <-got:
		return m
	case <-time.After(20 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("the listen sent nothing more")
		return nil
	}
}

// TestStatelessListenRejoin: a 2026-07-28 listen that starts while server
// b is down listens on a, asks b again until it answers, then tells the
// client (tools list_changed, under its subscription id) and passes b's
// own list_changed on; with every server down it ends with an error.
func TestStatelessListenRejoin(t *testing.T) {
	a, b := newPeer(t, "a", 0, modern(0, "public")), newPeer(t, "b", 0, modern(0, "public"))
	bDown := downable{ackSpy: ackSpy{b, make(chan struct{}, 4)}, up: make(chan struct{}), failed: make(chan struct{}, 1)}
	aAcked := make(chan struct{}, 4)
	f, err := New(Config{RejoinDelay: time.Millisecond, Servers: []Server{{Name: "a", Upstream: ackSpy{a, aAcked}}, {Name: "b", Upstream: bDown}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Wait)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got, done := startListen(t, ctx, f)
	<-aAcked
	<-bDown.failed
	if m := next(t, got); m.Method != "notifications/subscriptions/acknowledged" {
		t.Fatalf("first %s, want the acknowledgement", m.Method)
	}
	close(bDown.up)
	select {
	case <-bDown.acked:
	case <-time.After(20 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("b was never asked to listen again")
	}
	m := next(t, got)
	if sub, _ := pipeline.ValueAt(m.Params, []string{"_meta", "io.modelcontextprotocol/subscriptionId"}); m.Method != "notifications/tools/list_changed" || string(sub) != `"l"` {
		t.Fatalf("after b came back: %s %s, want tools list_changed of subscription l", m.Method, m.Params)
	}
	mcp.AddTool(b.srv, &mcp.Tool{Name: "new"}, func(context.Context, *mcp.CallToolRequest, textArgs) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{}, nil, nil
	})
	if m := next(t, got); m.Method != "notifications/tools/list_changed" {
		t.Fatalf("b's own change: %s", m.Method)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("listen ended with %v", err)
	}

	// Every server down: nothing to listen on, the client is told.
	f2, err := New(Config{RejoinDelay: time.Millisecond, Servers: []Server{
		{Name: "a", Upstream: downable{ackSpy: ackSpy{a, nil}, up: make(chan struct{}), failed: make(chan struct{}, 1)}},
		{Name: "b", Upstream: downable{ackSpy: ackSpy{b, nil}, up: make(chan struct{}), failed: make(chan struct{}, 1)}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f2.Wait)
	if _, done := startListen(t, context.Background(), f2); <-done == nil {
		t.Error("a listen with every server down succeeded")
	}
}
