package front

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/filter"
	"github.com/caddy-mcp/caddy-mcp/pipeline/intercept"
)

// BenchmarkCallJSONRules is BenchmarkCallJSON with 20 rules that do not
// match plus a tools filter: the per-call cost of a configured pipeline,
// the outbound worker's hand-off included.
func BenchmarkCallJSONRules(b *testing.B) {
	var rules []intercept.Rule
	for i := range 20 {
		r := intercept.Rule{Direction: "both", Actions: []intercept.Action{{Action: "block"}}}
		switch i % 4 {
		case 0:
			r.Methods = []string{fmt.Sprintf("custom/%d/*", i)}
		case 1:
			r.Tools = []string{fmt.Sprintf("danger_%d_*", i)}
		case 2:
			r.Resources = []string{"file:///secret/*"}
		case 3:
			r.Tools = []string{"read_file"}
			r.Fields = []intercept.Field{{Pointer: "/params/arguments/path", Regexp: "^/etc/"}}
		}
		rules = append(rules, r)
	}
	e, err := intercept.New(rules, nil)
	if err != nil {
		b.Fatal(err)
	}
	chain := pipeline.NewChain(filter.New(filter.Config{Tools: &filter.Rules{Deny: []string{"rm_*", "git_push"}}}), e)
	store := NewStore(Limits{}, nil)
	b.Cleanup(func() { store.Close("benchmark done") })
	srv, err := New(Config{Upstream: echoUpstream{}, Store: store, Chain: chain})
	if err != nil {
		b.Fatal(err)
	}
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, benchRequest(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"`+Version20250618+`"}}`, "", ""))
	id := w.Header().Get("Mcp-Session-Id")
	if w.Code != http.StatusOK || id == "" {
		b.Fatalf("initialize: %d %s", w.Code, w.Body)
	}
	const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}`
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, benchRequest(body, id, Version20250618))
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}
