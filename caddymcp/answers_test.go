package caddymcp

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// BenchmarkHandlerOnAnswer is the whole OnAnswer of a tools/call: the
// metrics and the call log.
func BenchmarkHandlerOnAnswer(b *testing.B) {
	h := &Handler{metrics: newEndpointMetrics("bench-calls"), calls: new(mcpstate.CallLog)}
	h.metrics.tools.learn([]byte(`{"tools":[{"name":"echo"}]}`))
	a := toolCall(b, "echo", `{"name":"echo","arguments":{"text":"hello"}}`, okAnswer)
	b.ReportAllocs()
	for b.Loop() {
		h.onAnswer(a)
	}
}

// toolCall is the Answered of a tools/call of tool with params, answered
// by answer (a JSON-RPC response), as mcpstate's call log tests make it.
func toolCall(t testing.TB, tool, params, answer string) front.Answered {
	t.Helper()
	m, err := pipeline.Parse([]byte(answer))
	if err != nil {
		t.Fatal(err)
	}
	return front.Answered{Method: "tools/call", Target: tool, Params: json.RawMessage(params), Session: "s1", User: "alice",
		Started: time.Unix(1800000000, 0), Answer: m}
}

const okAnswer = `{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`
