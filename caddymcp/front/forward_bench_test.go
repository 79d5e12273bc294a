package front

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/seal"
)

// BenchmarkForwardedCall measures a tools/call over loopback HTTP sent to
// the instance that owns its session ("owner") and to another one, which
// forwards it there ("one hop"). The upstream answers at once (echoUpstream),
// so the ratio is the hop's worst case: with a real stdio server the
// process's own time is added to both.
func BenchmarkForwardedCall(b *testing.B) {
	ring := testRing(b)
	owner, other := benchNode(b, ring), benchNode(b, ring)
	sid := benchBegin(b, owner.URL)
	const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}`
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	b.Cleanup(client.CloseIdleConnections)
	for _, c := range []struct{ name, url string }{{"owner", owner.URL}, {"one hop", other.URL}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, _ := http.NewRequest(http.MethodPost, c.url, strings.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Accept", "application/json, text/event-stream")
				r.Header.Set("Mcp-Session-Id", sid)
				r.Header.Set("Mcp-Protocol-Version", Version20250618)
				resp, err := client.Do(r)
				if err != nil {
					b.Fatal(err)
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(out), "hello from the echo upstream") {
					b.Fatalf("%d %s", resp.StatusCode, out)
				}
			}
		})
	}
}

// benchNode is an instance of a cluster over loopback HTTP with the echo
// upstream, whose sessions only it can serve.
func benchNode(b *testing.B, ring *seal.Ring) *httptest.Server {
	b.Helper()
	store := NewStore(Limits{}, nil)
	c := &Cluster{Ring: ring, Endpoint: "api", Hops: NewHops()}
	srv, err := New(Config{Upstream: echoUpstream{}, Store: store, Cluster: c})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	c.Node = ts.URL
	b.Cleanup(func() {
		srv.Exit()
		ts.Close()
		store.Close("benchmark done")
		c.Hops.CloseIdleConnections()
	})
	return ts
}

func benchBegin(b *testing.B, url string) string {
	b.Helper()
	r, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(initBody(Version20250618)))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	sid := resp.Header.Get("Mcp-Session-Id")
	if sid == "" {
		b.Fatalf("initialize: %d", resp.StatusCode)
	}
	return sid
}
