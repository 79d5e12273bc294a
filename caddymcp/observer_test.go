package caddymcp

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
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

// TestOnRequestTellsRecorder: the observer leaves the method of the last
// description on the Handler's statusRecorder (what its metrics count the
// POST under), the same method the request's placeholders publish, and
// leaves another writer alone.
func TestOnRequestTellsRecorder(t *testing.T) {
	repl := caddy.NewReplacer()
	r := httptest.NewRequest("POST", "/mcp", nil)
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
	rec := &statusRecorder{ResponseWriter: httptest.NewRecorder()}
	o := &observer{}
	o.OnRequest(rec, r, &front.RequestInfo{Method: "initialize"})
	o.OnRequest(rec, r, &front.RequestInfo{Method: "tools/call", SessionID: "s-1"})
	published, _ := mcphttp.PublishedInfo(r)
	if !rec.described || rec.method != "tools/call" || rec.method != published.Method {
		t.Errorf("recorder: described %v, method %q; published %q", rec.described, rec.method, published.Method)
	}
	o.OnRequest(httptest.NewRecorder(), r, &front.RequestInfo{Method: "ping"})
	if rec.method != "tools/call" {
		t.Errorf("a description on another writer changed the recorder's method to %q", rec.method)
	}
}
