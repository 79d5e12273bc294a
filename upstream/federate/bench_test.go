package federate

import (
	"context"
	"testing"

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
