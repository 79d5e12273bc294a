package federate

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

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
				PrefixAlways:      {"alpha_echo", "alpha_own_alpha", "beta_echo", "beta_own_beta"},
				PrefixConditional: {"alpha_echo", "own_alpha", "beta_echo", "own_beta"},
				PrefixNever:       {"echo", "own_alpha", "own_beta"},
			}[mode]
			if got := c.names("tools/list", "tools", "name"); !slices.Equal(got, want) {
				t.Fatalf("tools %v, want %v", got, want)
			}
			for _, name := range want {
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
	mcp.AddTool(a.srv, &mcp.Tool{Name: "fresh"}, func(context.Context, *mcp.CallToolRequest, textArgs) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "fresh"}}}, nil, nil
	})
	// The go-sdk sends list_changed on the session's standalone stream.
	c.conn.(upstream.Listener).Listen(true)
	defer c.conn.(upstream.Listener).Listen(false)
	n := <-c.notes
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
// the lists (with list_changed) and a call of one names the server.
func TestServerFails(t *testing.T) {
	_, b, _ := twoPeers(t, 0)
	a := newPeer(t, "alpha", 0)
	k := &killable{Upstream: a.up}
	c := open(t, PrefixAlways, []string{"alpha", "beta"}, []upstream.Upstream{k, b.up})
	c.initialize()
	c.names("tools/list", "tools", "name")
	k.kill()
	if n := <-c.notes; n.Method != "notifications/tools/list_changed" {
		t.Fatalf("got %s", n.Raw)
	}
	if got := c.names("tools/list", "tools", "name"); !slices.Equal(got, []string{"beta_echo", "beta_own_beta"}) {
		t.Errorf("tools after the failure: %v", got)
	}
	ans := c.call("tools/call", map[string]any{"name": "alpha_echo"})
	if ans.Error == nil || !strings.Contains(string(ans.Error), `the MCP server \"alpha\" of this endpoint is unavailable`) {
		t.Errorf("call of the failed server: %s", ans.Raw)
	}
	if got := text(t, c.call("tools/call", map[string]any{"name": "beta_echo", "arguments": map[string]string{"text": "y"}})); got != "beta:echo:y" {
		t.Errorf("call of the other: %q", got)
	}
}
