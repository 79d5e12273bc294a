package caddymcp

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// TestServerPlaceholder: {http.mcp.server} is the server the endpoint
// resolves for what a request names — a completion/complete's by the
// prompt or template it completes —, empty for a request naming nothing
// and on an endpoint without servers.
func TestServerPlaceholder(t *testing.T) {
	resolve := func(method, target string) string {
		switch {
		case method == "tools/call" && target == "docs_search",
			method == "prompts/get" && target == "docs_greet",
			method == "completion/complete" && target == "mcp+docs:file:///{p}":
			return "docs"
		}
		return ""
	}
	for _, tt := range []struct {
		name, msg, want string
		server          func(method, target string) string
	}{
		{"call", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"docs_search"}}`, "docs", resolve},
		{"completion of a prompt", `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"docs_greet"},"argument":{"name":"a","value":""}}}`, "docs", resolve},
		{"completion of a template", `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"mcp+docs:file:///{p}"},"argument":{"name":"p","value":""}}}`, "docs", resolve},
		{"names nothing", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, "", resolve},
		{"no servers", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"docs_search"}}`, "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := pipeline.Parse([]byte(tt.msg))
			if err != nil {
				t.Fatal(err)
			}
			repl := caddy.NewReplacer()
			r := httptest.NewRequest("POST", "/mcp", nil)
			r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
			info := front.DescribeRequest(r, []*pipeline.Message{m}, false)
			(&observer{server: tt.server}).OnRequest(httptest.NewRecorder(), r, &info)
			if got, _ := repl.GetString(PlaceholderServer); got != tt.want {
				t.Errorf("{%s} = %q, want %q", PlaceholderServer, got, tt.want)
			}
		})
	}
}
