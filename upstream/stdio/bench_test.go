package stdio

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// chanReceiver hands every server message to a channel.
type chanReceiver chan *pipeline.Message

func (c chanReceiver) Deliver(m *pipeline.Message) { c <- m }
func (c chanReceiver) Closed(error)                {}

// benchmarkRoundTrips initializes one session on conn and then measures
// tools/call round trips (send, the server's work, the response parsed and
// delivered) one after the other.
func benchmarkRoundTrips(b *testing.B, conn upstream.Conn, rec chanReceiver) {
	ctx := context.Background()
	send := func(raw string) {
		m, err := pipeline.Parse([]byte(raw))
		if err != nil {
			b.Fatal(err)
		}
		if err := conn.Send(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`)
	<-rec
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		send(`{"jsonrpc":"2.0","id":` + strconv.Itoa(i) + `,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}`)
		if m := <-rec; !m.IsResponse() {
			b.Fatalf("got %s", m.Raw)
		}
	}
}

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
	rec := make(chanReceiver, 16)
	conn, err := s.Open(context.Background(), rec)
	if err != nil {
		b.Fatal(err)
	}
	benchmarkRoundTrips(b, conn, rec)
	b.StopTimer()
	conn.Close()
	p.Close()
	s.Close()
	p.Wait()
	s.Wait()
}
