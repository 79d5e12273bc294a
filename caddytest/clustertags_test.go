package caddytest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/seal"
)

// memberPages is a go-sdk server of two tools, one per page, both named
// after it, served stateless (it speaks 2026-07-28).
func memberPages(name string) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: name, Version: "1"}, &mcp.ServerOptions{PageSize: 1})
	for _, tool := range []string{name + "_first", name + "_second"} {
		mcp.AddTool(s, &mcp.Tool{Name: tool}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{}, nil, nil
		})
	}
	return s
}

// TestClusterTagsCrossInstances: two Caddy processes sharing a cluster
// key, each with the same balance group of two go-sdk servers speaking
// 2026-07-28. A go-sdk client lists the first page on one instance; the
// cursor it gets is sealed (no member's name in it), and a client of the
// other instance gets the second page of the same member with it. A
// forged cursor — the member's own tag written out, which any client
// could choose before — or a tampered one is -32602 through real Caddy,
// naming no upstream.
func TestClusterTagsCrossInstances(t *testing.T) {
	requireIntegration(t)
	oneSrv := httptest.NewServer(statelessHandler(memberPages("one")))
	defer oneSrv.Close()
	twoSrv := httptest.NewServer(statelessHandler(memberPages("two")))
	defer twoSrv.Close()
	one, two := oneSrv.URL, twoSrv.URL
	key := seal.NewKey()
	lines := fmt.Sprintf("http %s {\n\t\t\tname one\n\t\t}\n\t\thttp %s {\n\t\t\tname two\n\t\t}", one, two)
	a := startClusterSite(t, key, lines)
	b := startClusterSite(t, key, lines)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	connect := func(base string) *mcp.ClientSession {
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, nil).
			Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + "/mcp"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cs.Close() })
		if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
			t.Fatalf("negotiated %q, want 2026-07-28", v)
		}
		return cs
	}
	ca, cb := connect(a.base), connect(b.base)
	first, err := ca.ListTools(ctx, &mcp.ListToolsParams{})
	if err != nil || len(first.Tools) != 1 || first.NextCursor == "" {
		t.Fatalf("first page on a: %+v %v", first, err)
	}
	member, _, _ := strings.Cut(first.Tools[0].Name, "_")
	if !strings.HasPrefix(first.NextCursor, "mcpgw.") || strings.Contains(first.NextCursor, member) {
		t.Fatalf("the cursor %q is not sealed", first.NextCursor)
	}
	t.Logf("sealed cursor: %d characters", len(first.NextCursor))
	second, err := cb.ListTools(ctx, &mcp.ListToolsParams{Cursor: first.NextCursor})
	if err != nil || len(second.Tools) != 1 || second.Tools[0].Name != member+"_second" {
		t.Fatalf("second page on b with a's cursor: %+v %v; want %s_second", second, err, member)
	}

	for _, forged := range []string{"mcpgw:" + member + ":", "mcpgw:" + member + ":eyJ4IjoxfQ", "mcpgw." + first.NextCursor[len("mcpgw.")+1:]} {
		_, err := cb.ListTools(ctx, &mcp.ListToolsParams{Cursor: forged})
		if e := wantRPCError(t, err, "forged cursor "+forged); e.Code != -32602 {
			t.Errorf("forged cursor %q: %v, want -32602", forged, err)
		}
		if strings.Contains(err.Error(), one) || strings.Contains(err.Error(), two) {
			t.Errorf("the error names an upstream: %v", err)
		}
	}
}
