package mcpmatcher

import (
	"testing"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// BenchmarkPublishRequestInfo is what the placeholders and log fields add
// to each MCP POST mcp_proxy serves: describing the parsed body and
// setting six placeholders and the access log's mcp object.
func BenchmarkPublishRequestInfo(b *testing.B) {
	r, _ := mcpRequest("POST", "application/json", callEcho, "Mcp-Session-Id", "s-1", "Mcp-Protocol-Version", "2025-06-18")
	msgs, batch, err := pipeline.ParseBody([]byte(callEcho))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		info := front.DescribeRequest(r, msgs, batch)
		mcphttp.PublishRequestInfo(r, &info)
	}
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
