package front

import (
	"net/http"
	"strings"
	"testing"
)

// BenchmarkProxiedCall measures what the front itself allocates for one
// tools/call: the request and the response writer are reused across
// iterations, so allocs/op counts the front's allocations alone, not the
// test harness's (httptest.NewRequest and NewRecorder make about 20 of
// their own per call).
func BenchmarkProxiedCall(b *testing.B) {
	for _, c := range []struct{ name, version, wantType string }{
		{"json", Version20250618, "application/json"},
		{"sse", Version20251125, "text/event-stream"},
	} {
		b.Run(c.name, func(b *testing.B) {
			srv, id := benchSession(b, c.version)
			const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}`
			r := benchRequest(body, id, c.version)
			rd := strings.NewReader(body)
			w := &reusedWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				r.Body = reusedBody{rd}
				w.reset()
				srv.ServeHTTP(w, r)
				if w.code != http.StatusOK || !strings.HasPrefix(w.h.Get("Content-Type"), c.wantType) || w.n == 0 {
					b.Fatalf("%d %q, %d bytes", w.code, w.h.Get("Content-Type"), w.n)
				}
			}
		})
	}
}

// reusedBody is a request body the benchmark rewinds between calls.
type reusedBody struct{ *strings.Reader }

func (reusedBody) Close() error { return nil }

// reusedWriter is a ResponseWriter that keeps nothing but the status, the
// headers and the byte count, and is reset between calls.
type reusedWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *reusedWriter) reset() {
	clear(w.h)
	w.code, w.n = 0, 0
}

func (w *reusedWriter) Header() http.Header { return w.h }

func (w *reusedWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *reusedWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(p)
	return len(p), nil
}

func (w *reusedWriter) Flush() { w.WriteHeader(http.StatusOK) }
