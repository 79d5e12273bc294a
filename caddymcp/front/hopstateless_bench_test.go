package front

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkStatelessHop: tasks/get of a task a process of instance A
// minted, sent to A ("owner") and to B, which forwards it to A ("one
// hop"), over loopback HTTP with kept-alive connections.
func BenchmarkStatelessHop(b *testing.B) {
	ring := testRing(b)
	start := func() (*httptest.Server, *Cluster) {
		c := &Cluster{Ring: ring, Endpoint: "api", Hops: NewHops()}
		store := NewStore(Limits{}, nil)
		srv, err := New(Config{Upstream: &statelessFake{call: processTasks}, Store: store, Clients: headerUsers, Cluster: c})
		if err != nil {
			b.Fatal(err)
		}
		ts := httptest.NewServer(srv)
		c.Node = ts.URL
		b.Cleanup(func() { ts.Close(); store.Close("benchmark done"); c.Hops.CloseIdleConnections() })
		return ts, c
	}
	a, ca := start()
	via, _ := start()
	body := taskBody(1, "tasks/get", "mcpgw."+ca.codec("alice").Seal("@0:t1", true))
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	b.Cleanup(tr.CloseIdleConnections)
	for _, bc := range []struct{ name, url string }{{"owner", a.URL}, {"one-hop", via.URL}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, _ := http.NewRequest(http.MethodPost, bc.url, strings.NewReader(body))
				for k, v := range map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
					"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tasks/get", "X-Test-User": "alice"} {
					r.Header.Set(k, v)
				}
				resp, err := tr.RoundTrip(r)
				if err != nil {
					b.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || strings.Contains(string(got), `"error"`) {
					b.Fatalf("%d %s", resp.StatusCode, got)
				}
			}
		})
	}
}
