package front

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/seal"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// echoUpstream answers every request at once with a fixed result, so the
// benchmarks measure the front alone.
type echoUpstream struct{}

type echoConn struct{ r upstream.Receiver }

func (echoUpstream) Open(_ context.Context, r upstream.Receiver) (upstream.Conn, error) {
	return &echoConn{r: r}, nil
}

var echoResult = []byte(`{"protocolVersion":"2025-06-18","content":[{"type":"text","text":"hello from the echo upstream"}]}`)

func (c *echoConn) Send(_ context.Context, m *pipeline.Message) error {
	if m.IsRequest() {
		c.r.Deliver(pipeline.NewResult(m.ID, echoResult))
	}
	return nil
}

func (c *echoConn) Close() {}

// benchSession serves an initialize and returns the server and session id.
func benchSession(b *testing.B, version string) (*Server, string) {
	return benchSessionIn(b, version, nil)
}

// benchSessionIn is benchSession on an endpoint of cluster (nil: none).
func benchSessionIn(b *testing.B, version string, cluster *Cluster) (*Server, string) {
	b.Helper()
	store := NewStore(Limits{}, nil)
	b.Cleanup(func() { store.Close("benchmark done") })
	srv, err := New(Config{Upstream: echoUpstream{}, Store: store, Cluster: cluster})
	if err != nil {
		b.Fatal(err)
	}
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, benchRequest(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"`+version+`"}}`, "", ""))
	id := w.Header().Get("Mcp-Session-Id")
	if w.Code != http.StatusOK || id == "" {
		b.Fatalf("initialize: %d %s", w.Code, w.Body)
	}
	return srv, id
}

func benchRequest(body, session, version string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/mcp", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	if session != "" {
		r.Header.Set("Mcp-Session-Id", session)
	}
	if version != "" {
		r.Header.Set("Mcp-Protocol-Version", version)
	}
	return r
}

// benchmarkCall measures one tools/call through ServeHTTP (no network):
// parsing, checks, session lookup, the empty pipeline, routing, the replay
// buffer and the response writer.
func benchmarkCall(b *testing.B, version, wantType string) {
	benchmarkCallIn(b, version, wantType, nil)
}

// benchmarkCallIn is benchmarkCall on an endpoint of cluster (nil: none).
func benchmarkCallIn(b *testing.B, version, wantType string, cluster *Cluster) {
	srv, id := benchSessionIn(b, version, cluster)
	const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}`
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, benchRequest(body, id, version))
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), wantType) {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

func BenchmarkCallJSON(b *testing.B) { benchmarkCall(b, Version20250618, "application/json") }

// BenchmarkCallJSONCluster is BenchmarkCallJSON on an endpoint with a
// cluster: the session is held here, found by its (sealed) id and never
// opened; the ratio to BenchmarkCallJSON is what a cluster costs a held
// session's request.
func BenchmarkCallJSONCluster(b *testing.B) {
	k, err := seal.ParseKey(seal.NewKey())
	if err != nil {
		b.Fatal(err)
	}
	ring, err := seal.NewRing(k)
	if err != nil {
		b.Fatal(err)
	}
	benchmarkCallIn(b, Version20250618, "application/json", &Cluster{Ring: ring, Endpoint: "api"})
}

// BenchmarkCallSSECluster is BenchmarkCallSSE on an endpoint with a
// cluster: each event id sealed, with the request its stream answers.
func BenchmarkCallSSECluster(b *testing.B) {
	k, err := seal.ParseKey(seal.NewKey())
	if err != nil {
		b.Fatal(err)
	}
	ring, err := seal.NewRing(k)
	if err != nil {
		b.Fatal(err)
	}
	benchmarkCallIn(b, Version20251125, "text/event-stream", &Cluster{Ring: ring, Endpoint: "api"})
}

// BenchmarkCallLarge is BenchmarkCallJSON with a 1 MiB tools/call: many
// small objects in the arguments, as a call that writes files sends.
func BenchmarkCallLarge(b *testing.B) {
	srv, id := benchSession(b, Version20250618)
	var body strings.Builder
	body.WriteString(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_files","arguments":{"files":[`)
	for i := 0; body.Len() < 1<<20; i++ {
		if i > 0 {
			body.WriteByte(',')
		}
		body.WriteString(`{"path":"src/pkg/file.go","mode":420,"content":"` + strings.Repeat("package pkg // line of code\\n", 8) + `"}`)
	}
	body.WriteString(`]}}}`)
	msg := body.String()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, benchRequest(msg, id, Version20250618))
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

func BenchmarkCallSSE(b *testing.B) { benchmarkCall(b, Version20251125, "text/event-stream") }

// BenchmarkSSEEvent measures framing and flushing one event.
func BenchmarkSSEEvent(b *testing.B) {
	w := httptest.NewRecorder()
	sw := &sseWriter{w: discardWriter{w}, rc: *http.NewResponseController(w)}
	data := []byte(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t","progress":1,"total":10}}`)
	b.ReportAllocs()
	for b.Loop() {
		sw.event("12_345", data)
		if err := sw.flush(); err != nil {
			b.Fatal(err)
		}
	}
}

// discardWriter is a ResponseWriter whose body goes nowhere, so the
// benchmark does not measure a growing buffer.
type discardWriter struct{ *httptest.ResponseRecorder }

func (discardWriter) Write(p []byte) (int, error) { return io.Discard.Write(p) }
