package balance

import (
	"context"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream/stdio"
)

// TestRetryFailureNamesNoCommand: when a session's initialize is moved
// to the next member and that member cannot be opened — a real stdio
// upstream whose command does not exist — the error the client reads
// names neither the command nor the member's failure text.
func TestRetryFailureNamesNoCommand(t *testing.T) {
	const command = "/nonexistent/secret-mcp-server"
	p, err := pool.New(pool.Config{Command: command, Warm: pool.NoWarm})
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	defer p.Close()
	up := stdio.New(p, 0, nil)
	defer up.Wait()
	g, err := New(Config{Members: []*Member{
		member(t, endsEarly{}, "first", HealthConfig{}),
		member(t, up, "second", HealthConfig{}),
	}, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Wait()
	in := newInbox()
	conn, err := g.Open(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.Send(context.Background(), request(t, initialize))
	m := in.next(t)
	if m.Error == nil || string(m.ID) != "1" {
		t.Fatalf("initialize answered %s, want an error", m.Raw)
	}
	if strings.Contains(string(m.Raw), "secret-mcp-server") || strings.Contains(string(m.Raw), "cannot start") {
		t.Errorf("the client reads the upstream's failure: %s", m.Raw)
	}
}
