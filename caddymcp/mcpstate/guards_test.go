package mcpstate

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// TestGuardsRequest: a guard covers exactly the requests that Caddy's path
// matcher (`path /mcp` or `path /mcp*`) would route under the resource.
func TestGuardsRequest(t *testing.T) {
	for _, tt := range []struct {
		base, path string
		want       bool
	}{
		{"/mcp", "/mcp", true},
		{"/mcp", "/MCP", true},
		{"/mcp", "//mcp", true},
		{"/mcp", "/./mcp", true},
		{"/mcp", "/x/../mcp", true},
		{"/mcp", "/mcp/", true},
		{"/mcp", "/mcp/sub", true},
		{"/mcp", "/\u212Acp", false}, // Kelvin sign lowercases to k, not m
		{"/kmcp", "/\u212Amcp", true},
		{"/mcp", "/mcpx", false},
		{"/mcp", "/other", false},
		{"/mcp", "/mcp/../other", false},
		{"", "/anything", true},
	} {
		r := httptest.NewRequest(http.MethodPost, "http://localhost/", nil)
		r.URL.Path = tt.path
		if got := GuardsRequest(tt.base, r); got != tt.want {
			t.Errorf("guard %q, path %q: %v, want %v", tt.base, tt.path, got, tt.want)
		}
	}
}

// TestGuardsRequestOriginalPath: a request whose path a rewrite moved
// (handle_path) is guarded by what the client asked for as well.
func TestGuardsRequestOriginalPath(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "http://localhost/API/mcp", nil)
	orig := *r
	origURL := *r.URL
	orig.URL = &origURL
	r = r.WithContext(context.WithValue(r.Context(), caddyhttp.OriginalRequestCtxKey, orig))
	r.URL.Path = "/mcp"
	for _, tt := range []struct {
		base string
		want bool
	}{{"/api/mcp", true}, {"/mcp", true}, {"/other", false}} {
		if got := GuardsRequest(tt.base, r); got != tt.want {
			t.Errorf("guard %q: %v, want %v", tt.base, got, tt.want)
		}
	}
}

// TestUnjudgedGuard: mcp_proxy finds a request for a guarded resource that
// no guarding mcp_auth let through; other hosts and paths are not its
// business, and one judging guard is enough.
func TestUnjudgedGuard(t *testing.T) {
	a1, a2 := new(int), new(int)
	app := new(Shared)
	app.AddGuard(Guard{Auth: a1, Host: "mcp.example.com", Path: "/mcp"})
	app.AddGuard(Guard{Auth: a2, Host: "mcp.example.com", Path: ""})
	req := func(target string, by ...any) *http.Request {
		r := httptest.NewRequest(http.MethodPost, target, nil)
		for _, h := range by {
			r = MarkJudged(r, h)
		}
		return r
	}
	for _, tt := range []struct {
		name    string
		r       *http.Request
		refused bool
	}{
		{"unjudged", req("http://mcp.example.com/MCP"), true},
		{"judged by the path guard", req("http://mcp.example.com/mcp", a1), false},
		{"judged by the site guard", req("http://MCP.example.com:8443//mcp", a2), false},
		{"judged by both", req("http://mcp.example.com/mcp", a2, a1), false},
		{"another host", req("http://other.example.com/mcp"), false},
		{"another path, site guard", req("http://mcp.example.com/x"), true},
		{"another path, judged", req("http://mcp.example.com/x", a2), false},
		{"another path, judged by the path guard only", req("http://mcp.example.com/x", a1), true},
	} {
		if got := app.UnjudgedGuard(tt.r) != nil; got != tt.refused {
			t.Errorf("%s: refused %v, want %v", tt.name, got, tt.refused)
		}
	}
	if (&Shared{}).UnjudgedGuard(req("http://mcp.example.com/mcp")) != nil {
		t.Error("a configuration without mcp_auth refused a request")
	}
}
