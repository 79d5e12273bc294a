package stdio

import (
	"context"
	"os"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream/internal/upstreamtest"
)

// BenchmarkStdioRoundTrip measures a tools/call through the stdio upstream
// to a go-sdk server subprocess (this test binary in server mode).
func BenchmarkStdioRoundTrip(b *testing.B) {
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	p, err := pool.New(pool.Config{Command: self, Env: map[string]string{serverModeEnv: "gosdk"}, Warm: pool.NoWarm})
	if err != nil {
		b.Fatal(err)
	}
	s := New(p, 4<<20, nil)
	rec := make(upstreamtest.ChanReceiver, 16)
	conn, err := s.Open(context.Background(), rec)
	if err != nil {
		b.Fatal(err)
	}
	upstreamtest.BenchmarkRoundTrips(b, conn, rec)
	b.StopTimer()
	conn.Close()
	p.Close()
	s.Close()
	p.Wait()
	s.Wait()
}
