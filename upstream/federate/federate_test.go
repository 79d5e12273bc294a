package federate

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

func twoPeers(t *testing.T, pageSize int) (*peer, *peer, []upstream.Upstream) {
	a, b := newPeer(t, "alpha", pageSize), newPeer(t, "beta", pageSize)
	return a, b, []upstream.Upstream{a.up, b.up}
}

func TestInitializeMerged(t *testing.T) {
	_, _, ups := twoPeers(t, 0)
	c := open(t, PrefixAlways, []string{"alpha", "beta"}, ups)
	res := c.initialize()
	if info := res["serverInfo"].(map[string]any); info["name"] != "Acme tools" {
		t.Errorf("serverInfo %v", info)
	}
	caps := res["capabilities"].(map[string]any)
	for _, k := range []string{"tools", "prompts", "resources"} {
		if caps[k].(map[string]any)["listChanged"] != true {
			t.Errorf("%s: listChanged not true: %v", k, caps[k])
		}
	}
	instr, _ := res["instructions"].(string)
	if !strings.Contains(instr, "## alpha\n\nuse alpha") || !strings.Contains(instr, "## beta\n\nuse beta") {
		t.Errorf("instructions %q", instr)
	}
	if res["protocolVersion"] != "2025-06-18" {
		t.Errorf("protocolVersion %v", res["protocolVersion"])
	}
	if ans := c.call("ping", nil); ans.Error != nil || string(ans.Result) != "{}" {
		t.Errorf("ping: %s", ans.Raw)
	}
}

// Lists are merged in configuration order, page by page (each server
// gives one item a page), and every name routes to its server with the
// server's own name.
func TestListsAndRouting(t *testing.T) {
	for _, mode := range []Prefix{PrefixAlways, PrefixConditional, PrefixNever} {
		t.Run(string(mode), func(t *testing.T) {
			_, _, ups := twoPeers(t, 1)
			c := open(t, mode, []string{"alpha", "beta"}, ups)
			c.initialize()
			want := map[Prefix][]string{
				PrefixAlways:      {"alpha_ask", "alpha_echo", "alpha_own_alpha", "beta_ask", "beta_echo", "beta_own_beta"},
				PrefixConditional: {"alpha_ask", "alpha_echo", "own_alpha", "beta_ask", "beta_echo", "own_beta"},
				PrefixNever:       {"ask", "echo", "own_alpha", "own_beta"},
			}[mode]
			if got := c.names("tools/list", "tools", "name"); !slices.Equal(got, want) {
				t.Fatalf("tools %v, want %v", got, want)
			}
			for _, name := range want {
				if strings.HasSuffix(name, "ask") {
					continue // it asks the client (TestServerRequests)
				}
				ans := c.call("tools/call", map[string]any{"name": name, "arguments": map[string]string{"text": "x"}})
				server, own := "alpha", name
				if strings.Contains(name, "beta") {
					server = "beta"
				}
				if mode != PrefixNever && strings.HasPrefix(name, server+"_") {
					own = strings.TrimPrefix(name, server+"_")
				}
				if got, w := text(t, ans), server+":"+own+":x"; got != w {
					t.Errorf("call %s: %q, want %q", name, got, w)
				}
			}
			prompts := c.names("prompts/list", "prompts", "name")
			if mode == PrefixNever {
				if !slices.Equal(prompts, []string{"greet"}) {
					t.Errorf("prompts %v", prompts)
				}
			} else if !slices.Equal(prompts, []string{"alpha_greet", "beta_greet"}) {
				t.Errorf("prompts %v", prompts)
			} else if got := text(t, c.call("prompts/get", map[string]any{"name": "beta_greet"})); got != "greet from beta" {
				t.Errorf("prompts/get: %q", got)
			}
			if got := c.names("resources/list", "resources", "uri"); !slices.Equal(got, []string{"alpha://readme", "beta://readme"}) {
				t.Errorf("resources %v", got)
			}
			if got := c.names("resources/templates/list", "resourceTemplates", "uriTemplate"); !slices.Equal(got, []string{"alpha://items/{id}", "beta://items/{id}"}) {
				t.Errorf("templates %v", got)
			}
			for _, uri := range []string{"alpha://readme", "beta://readme", "beta://items/7"} {
				if got := text(t, c.call("resources/read", map[string]any{"uri": uri})); got != strings.Split(uri, ":")[0]+" has "+uri {
					t.Errorf("read %s: %q", uri, got)
				}
			}
		})
	}
}

func TestUnknownNames(t *testing.T) {
	_, _, ups := twoPeers(t, 0)
	c := open(t, PrefixAlways, []string{"alpha", "beta"}, ups)
	c.initialize()
	for _, tt := range []struct {
		method string
		params map[string]any
		code   int
		msg    string
	}{
		{"tools/call", map[string]any{"name": "gamma_echo"}, pipeline.CodeInvalidParams, `unknown tool "gamma_echo"`},
		{"tools/call", map[string]any{"name": "echo"}, pipeline.CodeInvalidParams, `unknown tool "echo"`},
		{"prompts/get", map[string]any{"name": "nope"}, pipeline.CodeInvalidParams, `unknown prompt "nope"`},
		{"resources/read", map[string]any{"uri": "gamma://x"}, CodeResourceNotFound, "Resource not found"},
		{"tools/list", map[string]any{"cursor": "bogus"}, pipeline.CodeInvalidParams, "invalid cursor"},
	} {
		ans := c.call(tt.method, tt.params)
		var e pipeline.ErrorObject
		_ = json.Unmarshal(ans.Error, &e)
		if e.Code != tt.code || e.Message != tt.msg {
			t.Errorf("%s %v: %s", tt.method, tt.params, ans.Raw)
		}
	}
}

// A tool added on one server reaches the client as one list_changed, and
// the next list has it.
func TestListChanged(t *testing.T) {
	a, _, ups := twoPeers(t, 0)
	c := open(t, PrefixAlways, []string{"alpha", "beta"}, ups)
	c.initialize()
	c.names("tools/list", "tools", "name")
	// The go-sdk sends list_changed on the session's standalone stream,
	// which the HTTP upstream opens while the client listens: until it is
	// open, a change goes unheard, so the test changes the list again
	// until the client hears of it (a retry, not a timing assertion).
	c.conn.(upstream.Listener).Listen(true)
	defer c.conn.(upstream.Listener).Listen(false)
	var n *pipeline.Message
	for i := 0; n == nil; i++ {
		mcp.AddTool(a.srv, &mcp.Tool{Name: "fresh"}, func(context.Context, *mcp.CallToolRequest, textArgs) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "fresh"}}}, nil, nil
		})
		select {
		case n = <-c.notes:
		case <-time.After(100 * time.Millisecond):
			a.srv.RemoveTools("fresh")
		}
	}
	if n.Method != "notifications/tools/list_changed" {
		t.Fatalf("got %s", n.Raw)
	}
	if got := text(t, c.call("tools/call", map[string]any{"name": "alpha_fresh", "arguments": map[string]string{"text": "z"}})); got != "fresh" {
		t.Errorf("call: %q", got)
	}
	if !slices.Contains(c.names("tools/list", "tools", "name"), "alpha_fresh") {
		t.Error("the new tool is not listed")
	}
}

// A server whose session ends leaves the other working: its names leave
// the lists (with list_changed) and a call of one names the server; when
// it answers again it rejoins the session, and its names come back (with
// list_changed).
func TestServerFails(t *testing.T) {
	_, b, _ := twoPeers(t, 0)
	a := newPeer(t, "alpha", 0)
	k := &killable{Upstream: a.up}
	c := open(t, PrefixAlways, []string{"alpha", "beta"}, []upstream.Upstream{k, b.up})
	c.initialize()
	c.names("tools/list", "tools", "name")
	if ans := c.call("resources/subscribe", map[string]any{"uri": "alpha://readme"}); ans.Error != nil {
		t.Fatalf("subscribe: %s", ans.Raw)
	}
	<-a.subscribed
	k.kill()
	awaitChanged(t, c)
	if got := c.names("tools/list", "tools", "name"); !slices.Equal(got, []string{"beta_ask", "beta_echo", "beta_own_beta"}) {
		t.Errorf("tools after the failure: %v", got)
	}
	ans := c.call("tools/call", map[string]any{"name": "alpha_echo"})
	if ans.Error == nil || !strings.Contains(string(ans.Error), `the MCP server \"alpha\" of this endpoint is unavailable`) {
		t.Errorf("call of the failed server: %s", ans.Raw)
	}
	if got := text(t, c.call("tools/call", map[string]any{"name": "beta_echo", "arguments": map[string]string{"text": "y"}})); got != "beta:echo:y" {
		t.Errorf("call of the other: %q", got)
	}
	k.restart()
	awaitChanged(t, c)
	if uri := <-a.subscribed; uri != "alpha://readme" {
		t.Errorf("the rejoin subscribed to %q", uri)
	}
	if got := c.names("tools/list", "tools", "name"); len(got) != 6 || got[0] != "alpha_ask" {
		t.Errorf("tools after the rejoin: %v", got)
	}
	if got := text(t, c.call("tools/call", map[string]any{"name": "alpha_echo", "arguments": map[string]string{"text": "z"}})); got != "alpha:echo:z" {
		t.Errorf("call after the rejoin: %q", got)
	}
}

// awaitChanged waits for a list_changed of each kind, in any order.
func awaitChanged(t *testing.T, c *client) {
	t.Helper()
	heard := map[string]bool{}
	for len(heard) < 3 {
		heard[(<-c.notes).Method] = true
	}
	for _, want := range []string{"tools", "prompts", "resources"} {
		if !heard["notifications/"+want+"/list_changed"] {
			t.Errorf("no %s list_changed: %v", want, heard)
		}
	}
}

// A server's request to the client reaches it under a gateway id, the
// client's answer goes back to the server that asked, and progress comes
// with the client's own token.
func TestServerRequests(t *testing.T) {
	_, _, ups := twoPeers(t, 0)
	c := open(t, PrefixAlways, []string{"alpha", "beta"}, ups)
	c.initialize()
	done := make(chan *pipeline.Message, 1)
	go func() {
		done <- c.call("tools/call", map[string]any{"name": "beta_ask", "arguments": map[string]string{"text": ""},
			"_meta": map[string]any{"progressToken": "client-token"}})
	}()
	var asked *pipeline.Message
	for asked == nil {
		n := <-c.notes
		switch {
		case n.Method == "notifications/progress":
			if !strings.Contains(string(n.Params), `"progressToken":"client-token"`) {
				t.Errorf("progress: %s", n.Raw)
			}
		case n.Method == "sampling/createMessage" && n.IsRequest():
			asked = n
		default:
			t.Fatalf("unexpected %s", n.Raw)
		}
	}
	if !strings.HasPrefix(string(asked.ID), `"s`) || !strings.Contains(string(asked.Params), "question from beta") {
		t.Fatalf("the server's request: %s", asked.Raw)
	}
	answer, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":` + string(asked.ID) +
		`,"result":{"role":"assistant","model":"m","content":{"type":"text","text":"forty-two"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.conn.Send(context.Background(), answer); err != nil {
		t.Fatal(err)
	}
	if got := text(t, <-done); got != "beta heard forty-two" {
		t.Errorf("tool result %q", got)
	}
}

// The client's cancellation reaches the server that has the request,
// under the gateway's id.
func TestCancellation(t *testing.T) {
	a, b := newPeer(t, "alpha", 0), newPeer(t, "beta", 0)
	c := open(t, PrefixAlways, []string{"alpha", "beta"}, []upstream.Upstream{a.up, b.up})
	c.initialize()
	send := func(raw string) {
		t.Helper()
		msg, err := pipeline.Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.conn.Send(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	send(`{"jsonrpc":"2.0","id":"call","method":"tools/call","params":{"name":"alpha_ask","arguments":{"text":""}}}`)
	if asked := <-c.notes; asked.Method != "sampling/createMessage" {
		t.Fatalf("got %s", asked.Raw)
	}
	send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"call"}}`)
	<-a.cancelled
}

// A server's cancellation of its own request to the client reaches the
// client under the gateway id the client knows the request by; one of a
// request the client never got is dropped.
func TestServerCancelled(t *testing.T) {
	f, err := New(Config{Servers: []Server{{Name: "a", Upstream: &killable{}}, {Name: "b", Upstream: &killable{}}}})
	if err != nil {
		t.Fatal(err)
	}
	c := newConn(f, nil)
	c.serverReqs[`"s7"`] = serverReq{m: c.members[1], id: json.RawMessage(`3`)}
	msg, _ := pipeline.Parse([]byte(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3,"reason":"x"}}`))
	if out := c.serverCancelled(c.members[0], msg); out != nil {
		t.Errorf("another server's request id was mapped: %s", out.Raw)
	}
	out := c.serverCancelled(c.members[1], msg)
	if out == nil || string(out.CancelledRequestID()) != `"s7"` {
		t.Fatalf("got %v", out)
	}
	if c.serverCancelled(c.members[1], msg) != nil {
		t.Error("a request cancelled twice")
	}
	c.Close()
}

// A server that cannot open its session in time is left out of it, and
// joins (with list_changed) once it can.
func TestLateServerJoins(t *testing.T) {
	_, b, _ := twoPeers(t, 0)
	a := newPeer(t, "alpha", 0)
	k := &killable{Upstream: a.up, gate: make(chan struct{})}
	f, err := New(Config{Servers: []Server{{Name: "alpha", Upstream: k}, {Name: "beta", Upstream: b.up}},
		InitTimeout: 100 * time.Millisecond, RejoinDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, f: f, waiters: map[string]chan *pipeline.Message{}, notes: make(chan *pipeline.Message, 64), closed: make(chan error, 1)}
	if c.conn, err = f.Open(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.conn.Close()
		f.Wait()
	})
	c.initialize()
	if got := c.names("tools/list", "tools", "name"); len(got) != 3 || got[0] != "beta_ask" {
		t.Errorf("tools without alpha: %v", got)
	}
	k.restart()
	awaitChanged(t, c)
	if got := c.names("tools/list", "tools", "name"); len(got) != 6 || got[0] != "alpha_ask" {
		t.Errorf("tools once alpha joined: %v", got)
	}
}
