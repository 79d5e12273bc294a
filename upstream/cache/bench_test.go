package cache

import (
	"context"
	"os"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/stdio"
)

// BenchmarkToolsList measures a 2026-07-28 tools/list of 20 tools that
// reaches a go-sdk stdio server (this test binary in server mode, whose
// lists are public for a minute) and the same answered from the cache in
// front of it. Compare the two in one run:
//
//	go test -run '^$' -bench ToolsList -benchmem ./upstream/cache
func BenchmarkToolsList(b *testing.B) {
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	p, err := pool.New(pool.Config{Command: self, Env: map[string]string{serverModeEnv: "1"}, Warm: pool.NoWarm})
	if err != nil {
		b.Fatal(err)
	}
	s, err := stdio.NewWithOptions(p, 4<<20, nil, stdio.Options{Protocol: stdio.ProtocolModern, Shared: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { s.Close(); p.Close(); p.Wait(); s.Wait() }()
	m, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`))
	if err != nil {
		b.Fatal(err)
	}
	req := &upstream.StatelessRequest{Message: m}
	run := func(b *testing.B, up upstream.Stateless) {
		var last *pipeline.Message
		deliver := func(m *pipeline.Message, _ int) { last = m }
		if err := up.Call(context.Background(), req, deliver); err != nil { // the process starts; the cache fills
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := up.Call(context.Background(), req, deliver); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if last == nil || last.Result == nil {
			b.Fatalf("no result: %v", last)
		}
	}
	b.Run("stdio", func(b *testing.B) { run(b, s) })
	c := New(Config{})
	b.Run("cached", func(b *testing.B) {
		run(b, c.Upstream(s, ""))
		if n, _ := c.Len(); n != 1 {
			b.Fatalf("%d entries, want the one tools/list", n)
		}
	})
}
