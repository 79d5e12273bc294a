package front

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/filter"
	"github.com/caddy-mcp/caddy-mcp/pipeline/pins"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// listUpstream answers every request with a tools/list result of 20
// tools, each with a description and an input schema, as a real server's.
type listUpstream struct{}

type listConn struct{ r upstream.Receiver }

func (listUpstream) Open(_ context.Context, r upstream.Receiver) (upstream.Conn, error) {
	return &listConn{r: r}, nil
}

var listResult = func() []byte {
	var b strings.Builder
	b.WriteString(`{"protocolVersion":"2025-06-18","tools":[`)
	for i := range 20 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"tool_%d","description":"Does thing %d to the file at path, and reports what it did.",`+
			`"inputSchema":{"type":"object","properties":{"path":{"type":"string","description":"the file"},"force":{"type":"boolean"}},"required":["path"]},`+
			`"annotations":{"readOnlyHint":false}}`, i, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}()

func (c *listConn) Send(_ context.Context, m *pipeline.Message) error {
	if m.IsRequest() {
		c.r.Deliver(pipeline.NewResult(m.ID, listResult))
	}
	return nil
}

func (c *listConn) Close() {}

// BenchmarkListPins measures one tools/list of 20 tools through ServeHTTP
// with no stage, with a tools filter that hides none of them, and with
// pin_tools (every tool pinned: the steady state). Compare pins with the
// other two in one run (benchstat, or the ns/op ratio): the canonical form
// and digest are computed once per distinct definition, and a page seen
// before while no pin changed is a map lookup.
func BenchmarkListPins(b *testing.B) {
	book := pins.NewBook("bench", unlockedStorage{&certmagic.FileStorage{Path: b.TempDir()}}, pins.Config{OnChange: pins.Hide, OnNew: pins.Pass})
	for _, bc := range []struct {
		name  string
		chain *pipeline.Chain
	}{
		{"off", nil},
		{"filter", pipeline.NewChain(filter.New(filter.Config{Tools: &filter.Rules{Deny: []string{"rm_*"}}}))},
		{"pins", pipeline.NewChain(pins.NewStage(book, ""))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			store := NewStore(Limits{}, nil)
			b.Cleanup(func() { store.Close("benchmark done") })
			srv, err := New(Config{Upstream: listUpstream{}, Store: store, Chain: bc.chain})
			if err != nil {
				b.Fatal(err)
			}
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, benchRequest(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"`+Version20250618+`"}}`, "", ""))
			id := w.Header().Get("Mcp-Session-Id")
			if w.Code != http.StatusOK || id == "" {
				b.Fatalf("initialize: %d %s", w.Code, w.Body)
			}
			const body = `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, benchRequest(body, id, Version20250618))
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "tool_19") {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}

// unlockedStorage is a file storage without certmagic's file lock, whose
// goroutine outlives the unlock by seconds and so the leak check; the
// benchmark has one writer.
type unlockedStorage struct{ *certmagic.FileStorage }

func (unlockedStorage) Lock(context.Context, string) error   { return nil }
func (unlockedStorage) Unlock(context.Context, string) error { return nil }
