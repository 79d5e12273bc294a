package mcptrace_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcptrace"
	"github.com/caddy-mcp/caddy-mcp/upstream/remote"
)

// BenchmarkToolsCall is a 2026-07-28 tools/call through the front to a
// go-sdk server over HTTP, as Caddy serves it without tracing (off) and
// with its tracing handler (on: otelhttp with a batching OTLP/HTTP exporter
// to a local receiver, as Caddy's tracing sets up, and the gateway's
// spans). Each iteration makes one call of each kind, alternately, so that
// the load of a shared machine weighs on both alike; speed_on/off is how
// fast calls are with tracing on relative to off (1 is as fast).
func BenchmarkToolsCall(b *testing.B) {
	gateway := startFront(b, startGoSDKServer(b))
	off := newCaller(b, httptest.NewServer(gateway))
	on := newCaller(b, httptest.NewServer(otelhttp.NewHandler(gateway, "handler", otelhttp.WithTracerProvider(localProvider(b)))))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		first, second := off, on
		if i%2 == 1 {
			first, second = on, off
		}
		first.call(b, i)
		second.call(b, i)
	}
	tOff, tOn := off.spent, on.spent
	b.ReportMetric(float64(tOff.Nanoseconds())/float64(b.N), "ns_off/op")
	b.ReportMetric(float64(tOn.Nanoseconds())/float64(b.N), "ns_on/op")
	b.ReportMetric(float64(tOff)/float64(tOn), "speed_on/off")
}

// localProvider is a tracer provider that exports in batches over OTLP/HTTP
// to a receiver in this process that reads and acknowledges every export.
func localProvider(b *testing.B) *sdktrace.TracerProvider {
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	b.Cleanup(recv.Close)
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(recv.URL+"/v1/traces"))
	if err != nil {
		b.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

func startGoSDKServer(b *testing.B) string {
	s := mcp.NewServer(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "echo"}, func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "hello"}}}, nil, nil
	})
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true}))
	b.Cleanup(srv.Close)
	return srv.URL
}

func startFront(b *testing.B, upstreamURL string) http.Handler {
	up, err := remote.NewHTTP(remote.Config{URL: upstreamURL, Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	store := front.NewStore(front.Limits{}, nil)
	b.Cleanup(func() { store.Close("benchmark done") })
	srv, err := front.New(front.Config{Upstream: up, Store: store, Trace: mcptrace.Options{}})
	if err != nil {
		b.Fatal(err)
	}
	return srv
}

// caller makes calls to one server and adds up the time they took.
type caller struct {
	ts    *httptest.Server
	spent time.Duration
}

func newCaller(b *testing.B, ts *httptest.Server) *caller {
	b.Cleanup(ts.Close)
	return &caller{ts: ts}
}

// call makes tools/call number i.
func (c *caller) call(b *testing.B, i int) {
	body := `{"jsonrpc":"2.0","id":` + strconv.Itoa(i) + `,"method":"tools/call","params":{"name":"echo","arguments":{},` +
		`"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`
	req, _ := http.NewRequest(http.MethodPost, c.ts.URL, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", "tools/call")
	req.Header.Set("Mcp-Name", "echo")
	start := time.Now()
	resp, err := c.ts.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	c.spent += time.Since(start)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(out), "hello") {
		b.Fatalf("%d %s", resp.StatusCode, out)
	}
}
