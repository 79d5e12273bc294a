package front

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// benchPages answers a tools/list of 50 tools with a member's tag as its
// nextCursor (a balance group's), and the tag's page with the last tool.
type benchPages struct{ first, second []byte }

func (benchPages) Open(context.Context, upstream.Receiver) (upstream.Conn, error) {
	return nil, upstream.ErrSessionfulOnly
}

func (p benchPages) Call(_ context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
	if strings.Contains(string(req.Message.Params), `"cursor":"mcpgw:a:`) {
		deliver(pipeline.NewResult(req.Message.ID, p.second), http.StatusOK)
		return nil
	}
	deliver(pipeline.NewResult(req.Message.ID, p.first), http.StatusOK)
	return nil
}

// BenchmarkStatelessListTags measures a paginated 2026-07-28 tools/list
// through ServeHTTP — the first page, then the second with the cursor the
// client got — without a cluster (the member's plain tag) and with one
// (sealed on the way out, opened on the way back).
func BenchmarkStatelessListTags(b *testing.B) {
	tools := strings.Repeat(`{"name":"tool","description":"does a thing","inputSchema":{"type":"object"}},`, 49)
	up := benchPages{
		first:  []byte(`{"tools":[` + tools + `{"name":"last"}],"nextCursor":"mcpgw:a:6f9619ff-8b86-d011-b42d-00c04fc964ff"}`),
		second: []byte(`{"tools":[{"name":"more"}]}`),
	}
	for _, bc := range []struct {
		name    string
		cluster *Cluster
	}{
		{"no-cluster", nil},
		{"cluster", &Cluster{Ring: testRing(&testing.T{}), Endpoint: "api"}},
		// An instance that may forward: each tagged request's owner is
		// read before it is served (hopstateless.go).
		{"cluster-node", &Cluster{Ring: testRing(&testing.T{}), Endpoint: "api", Node: "http://10.0.0.5:8080", Hops: NewHops()}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			store := NewStore(Limits{}, nil)
			b.Cleanup(func() { store.Close("benchmark done") })
			srv, err := New(Config{Upstream: up, Store: store, Cluster: bc.cluster})
			if err != nil {
				b.Fatal(err)
			}
			list := func(cursor string) []byte {
				params := `{` + statelessMeta + `}`
				if cursor != "" {
					params = `{"cursor":"` + cursor + `",` + statelessMeta + `}`
				}
				r := benchRequest(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":`+params+`}`, "", "2026-07-28")
				r.Header.Set("Mcp-Method", "tools/list")
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
				return w.Body.Bytes()
			}
			b.ReportAllocs()
			for b.Loop() {
				var res struct {
					Result struct {
						NextCursor string `json:"nextCursor"`
					} `json:"result"`
				}
				_ = json.Unmarshal(list(""), &res)
				if !strings.Contains(string(list(res.Result.NextCursor)), `"more"`) {
					b.Fatal("the second page did not come")
				}
			}
		})
	}
}
