package stdio

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

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
	before := selfCPU()
	upstreamtest.BenchmarkRoundTrips(b, conn, rec)
	b.StopTimer()
	b.ReportMetric(float64(selfCPU()-before)/float64(b.N), "self-cpu-ns/op")
	conn.Close()
	p.Close()
	s.Close()
	p.Wait()
	s.Wait()
}

// selfCPU is the user + system CPU time this process (not its children,
// the servers) has used: the gateway's side of a round trip, which ns/op
// mixes with the server's.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
