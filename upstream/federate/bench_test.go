package federate

import (
	"context"
	"net/http"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/internal/upstreamtest"
)

// BenchmarkCall measures tools/call round trips to a go-sdk server over
// HTTP: alone, and as the first of three federated servers (prefix never,
// so that the benchmark's "echo" is the first server's).
func BenchmarkCall(b *testing.B) {
	names := []string{"alpha", "beta", "gamma"}
	peers := make([]*peer, len(names))
	for i, n := range names {
		peers[i] = newPeer(b, n, 0)
	}
	b.Run("alone", func(b *testing.B) {
		rec := make(upstreamtest.ChanReceiver, 16)
		conn, err := peers[0].up.Open(context.Background(), rec)
		if err != nil {
			b.Fatal(err)
		}
		upstreamtest.BenchmarkRoundTrips(b, conn, rec)
		b.StopTimer()
		conn.Close()
	})
	b.Run("federated3", func(b *testing.B) {
		cfg := Config{Prefix: PrefixNever}
		for i, p := range peers {
			cfg.Servers = append(cfg.Servers, Server{Name: names[i], Upstream: p.up})
		}
		f, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		rec := make(upstreamtest.ChanReceiver, 16)
		conn, err := f.Open(context.Background(), rec)
		if err != nil {
			b.Fatal(err)
		}
		upstreamtest.BenchmarkRoundTrips(b, conn, rec)
		b.StopTimer()
		conn.Close()
		f.Wait()
	})
}

// BenchmarkStatelessCall measures 2026-07-28 tools/call round trips to a
// go-sdk server over HTTP: alone, and as the first of three federated
// servers (prefix always: the name says the server, no list is read).
func BenchmarkStatelessCall(b *testing.B) {
	names := []string{"alpha", "beta", "gamma"}
	cfg := Config{Prefix: PrefixAlways}
	var alone upstream.Stateless
	for i, n := range names {
		p := newPeer(b, n, 0, modern(0, "public"))
		if i == 0 {
			alone = p.up
		}
		cfg.Servers = append(cfg.Servers, Server{Name: n, Upstream: p.up})
	}
	f, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name, tool string
		up         upstream.Stateless
	}{{"alone", "echo", alone}, {"federated3", "alpha_echo", f}} {
		b.Run(tc.name, func(b *testing.B) {
			raw := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tc.tool + `","arguments":{"text":"x"},"_meta":` + meta2026 + `}}`)
			h := http.Header{}
			h.Set("MCP-Protocol-Version", "2026-07-28")
			h.Set("Mcp-Method", "tools/call")
			h.Set("Mcp-Name", tc.tool)
			b.ReportAllocs()
			for b.Loop() {
				msg, _ := pipeline.Parse(raw)
				var ans *pipeline.Message
				err := tc.up.Call(context.Background(), &upstream.StatelessRequest{Message: msg, Header: h}, func(m *pipeline.Message, _ int) { ans = m })
				if err != nil || ans == nil || ans.Error != nil {
					b.Fatalf("%v %v", err, ans)
				}
			}
		})
	}
	f.Wait()
}
