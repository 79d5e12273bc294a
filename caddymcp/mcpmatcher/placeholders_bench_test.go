package mcpmatcher

import (
	"context"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// BenchmarkPublishRequestInfo is what the placeholders and log fields add
// to each MCP POST mcp_proxy serves: describing the parsed body and
// setting six placeholders and the access log's mcp object. "new request"
// publishes into a fresh replacer each time, as Caddy's requests have
// (making it is counted too); "again" publishes into the same one, as
// mcp_proxy does after the mcp matcher.
func BenchmarkPublishRequestInfo(b *testing.B) {
	r, _ := mcpRequest("POST", "application/json", callEcho, "Mcp-Session-Id", "s-1", "Mcp-Protocol-Version", "2025-06-18")
	msgs, batch, err := pipeline.ParseBody([]byte(callEcho))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("new request", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer())
			ctx = context.WithValue(ctx, caddyhttp.ExtraLogFieldsCtxKey, new(caddyhttp.ExtraLogFields))
			r := r.WithContext(ctx)
			info := front.DescribeRequest(r, msgs, batch)
			mcphttp.PublishRequestInfo(r, &info)
		}
	})
	b.Run("again", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			info := front.DescribeRequest(r, msgs, batch)
			mcphttp.PublishRequestInfo(r, &info)
		}
	})
}

// BenchmarkMatchMCP is the matcher's cost on a small tools/call: reading
// and restoring the body, parsing the envelope, the placeholders.
func BenchmarkMatchMCP(b *testing.B) {
	m := MatchMCP{Method: []string{"tools/call"}, Tool: []string{"ec*"}}
	b.ReportAllocs()
	for b.Loop() {
		r, _ := mcpRequest("POST", "application/json", callEcho)
		if ok, _ := m.MatchWithError(r); !ok {
			b.Fatal("no match")
		}
	}
}
