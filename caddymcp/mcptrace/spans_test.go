package mcptrace

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// tracedRequest is a request whose context holds a recording span, as
// Caddy's tracing handler leaves it, and the recorder of the spans.
func tracedRequest(t *testing.T) (*tracetest.SpanRecorder, context.Context) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("caddy").Start(context.Background(), "handler", trace.WithSpanKind(trace.SpanKindServer))
	t.Cleanup(func() { span.End() })
	return rec, ctx
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// How an answer shows on the spans: error.type and rpc.response.status_code
// of an error, tool_error for isError, nothing for a result; an exchange
// that ended without an answer says why.
func TestOutcomes(t *testing.T) {
	call := `{"jsonrpc":"2.0","id":"c-1","method":"tools/call","params":{"name":"echo","arguments":{"a":1}}}`
	tests := []struct {
		name      string
		answer    string
		err       error
		errorType string
		status    string
	}{
		{"result", `{"jsonrpc":"2.0","id":"c-1","result":{"content":[]}}`, nil, "", ""},
		{"tool error", `{"jsonrpc":"2.0","id":"c-1","result":{"content":[],"isError":true}}`, nil, "tool_error", ""},
		{"JSON-RPC error", `{"jsonrpc":"2.0","id":"c-1","error":{"code":-32602,"message":"bad"}}`, nil, "-32602", "-32602"},
		{"cancelled", "", context.Canceled, "cancelled", ""},
		{"failed", "", errors.New("connection refused"), "upstream_error", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, ctx := tracedRequest(t)
			r := httptest.NewRequest("POST", "/mcp", nil).WithContext(ctx)
			m := mustParse(t, call)
			ctx, q := Start(r, m, Info{SessionID: "s-1", ProtocolVersion: "2025-11-25"}, Options{Arguments: true})
			if q == nil {
				t.Fatal("a traced request got no span")
			}
			out, header, end := upstream.TraceExchange(ctx, upstream.Peer{Name: "up", Transport: "tcp", Address: "127.0.0.1", Port: 9}, m)
			if !strings.Contains(string(out.Raw), `"traceparent":"00-`) || header.Get("Traceparent") == "" {
				t.Errorf("no trace context toward the server: %s %v", out.Raw, header)
			}
			var answer *pipeline.Message
			if tt.answer != "" {
				answer = mustParse(t, tt.answer)
			}
			end(answer, tt.err)
			q.End(answer)
			q.End(nil) // only the first counts
			spans := rec.Ended()
			if len(spans) != 2 {
				t.Fatalf("%d spans ended, want the exchange's and the request's", len(spans))
			}
			client, server := spans[0], spans[1]
			if client.SpanKind() != trace.SpanKindClient || server.SpanKind() != trace.SpanKindServer ||
				client.Parent().SpanID() != server.SpanContext().SpanID() {
				t.Fatalf("spans %v %v", client.SpanKind(), server.SpanKind())
			}
			if got := attr(client, "error.type"); got != tt.errorType {
				t.Errorf("client error.type %q, want %q", got, tt.errorType)
			}
			if tt.err == nil && attr(server, "error.type") != tt.errorType {
				t.Errorf("server error.type %q, want %q", attr(server, "error.type"), tt.errorType)
			}
			if got := attr(server, "rpc.response.status_code"); tt.err == nil && got != tt.status {
				t.Errorf("rpc.response.status_code %q, want %q", got, tt.status)
			}
			for key, want := range map[string]string{"mcp.session.id": "s-1", "jsonrpc.request.id": "c-1",
				"gen_ai.tool.call.arguments": `{"a":1}`, "caddy.mcp.upstream": "up", "server.port": "9"} {
				s := server
				if key == "caddy.mcp.upstream" || key == "server.port" {
					s = client
				}
				if got := attr(s, key); got != want {
					t.Errorf("%s = %q, want %q", key, got, want)
				}
			}
		})
	}
}

// discard is a span exporter that drops what it gets.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkSpans is the gateway's own part of a traced tools/call: the
// request's span, its exchange's with the trace context put in _meta, and
// their ends, on an SDK provider that batches to an exporter that drops
// them (Caddy's HTTP span and the export itself are not in it).
func BenchmarkSpans(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("caddy").Start(context.Background(), "handler")
	defer span.End()
	r := httptest.NewRequest("POST", "/mcp", nil).WithContext(ctx)
	m := mustParse(b, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`)
	answer := mustParse(b, `{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"hello"}]}}`)
	peer := upstream.Peer{Name: "up", Transport: "tcp", Address: "127.0.0.1", Port: 9000}
	b.ReportAllocs()
	for b.Loop() {
		ctx, q := Start(r, m, Info{ProtocolVersion: "2026-07-28"}, Options{})
		_, _, end := upstream.TraceExchange(ctx, peer, m)
		end(answer, nil)
		q.End(answer)
	}
}
