package caddymcp

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// BenchmarkHandlerOnAnswer is the observer's whole OnAnswer of a tools/call: the
// metrics and the call log.
func BenchmarkHandlerOnAnswer(b *testing.B) {
	o := &observer{metrics: newEndpointMetrics("bench-calls"), calls: new(mcpstate.CallLog)}
	o.metrics.tools.learn([]byte(`{"tools":[{"name":"echo"}]}`))
	answer, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`))
	if err != nil {
		b.Fatal(err)
	}
	a := front.Answered{Method: "tools/call", Target: "echo", Params: json.RawMessage(`{"name":"echo","arguments":{"text":"hello"}}`),
		Session: "s1", User: "alice", Started: time.Unix(1800000000, 0), Answer: answer}
	b.ReportAllocs()
	for b.Loop() {
		o.OnAnswer(a)
	}
}
