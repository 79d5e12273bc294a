package federate

import (
	"context"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/pipeline/filter"
)

// TestListChangedOnlyWhenSeen: a server's change the client does not see
// (a tool its filter hides) sends no list_changed; a change it sees sends
// one; a list the client has not read since (or never read) is
// announced without comparing.
// The client does not listen, so only announce (what the coalescing
// window runs) sends notifications here.
func TestListChangedOnlyWhenSeen(t *testing.T) {
	a, _, ups := twoPeers(t, 0)
	c := openConfig(t, Config{Servers: []Server{
		{Name: "alpha", Upstream: ups[0], Filter: filter.Config{Tools: &filter.Rules{Deny: []string{"secret_*"}}}},
		{Name: "beta", Upstream: ups[1]}}})
	c.initialize()
	c.names("tools/list", "tools", "name")
	conn := c.conn.(*conn)
	add := func(name string) {
		mcp.AddTool(a.srv, &mcp.Tool{Name: name}, func(context.Context, *mcp.CallToolRequest, textArgs) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{}, nil, nil
		})
	}
	for _, step := range []struct {
		add  string
		k    kind
		want string
	}{
		{"secret_x", kTools, ""},
		{"", kTools, ""},
		{"visible", kTools, "notifications/tools/list_changed"},
		{"", kTools, "notifications/tools/list_changed"},     // not listed since it was told
		{"", kPrompts, "notifications/prompts/list_changed"}, // never listed
	} {
		if step.add != "" {
			add(step.add)
		}
		conn.announce(step.k)
		got := ""
		select {
		case n := <-c.notes:
			got = n.Method
		default:
		}
		if got != step.want {
			t.Errorf("after adding %q: %q, want %q", step.add, got, step.want)
		}
	}
}
