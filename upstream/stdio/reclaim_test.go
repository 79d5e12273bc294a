package stdio

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

// TestStdioOpenReclaims: an Open on a full pool whose context carries
// WithReclaim asks for a process back and gets the freed slot, with a real
// go-sdk server (which exits on stdin EOF, so the slot frees at once).
func TestStdioOpenReclaims(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p, err := pool.New(pool.Config{
		Command: self,
		// Under -race a Go program sleeps 1s at exit; the server here
		// should exit on stdin EOF at once, as the real one does.
		Env:          map[string]string{serverModeEnv: "gosdk", "GORACE": "atexit_sleep_ms=0"},
		MaxProcesses: 1,
		Warm:         pool.NoWarm,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := New(p, 1<<20, nil)
	defer func() {
		p.Close()
		s.Close()
		p.Wait()
		s.Wait()
	}()
	oldRec := newRecorder()
	old, err := s.Open(context.Background(), oldRec)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := old.Send(context.Background(), mustParse(t, initialize)); err != nil {
		t.Fatal(err)
	}
	oldRec.next(t) // the server runs: its exit on EOF is what is left

	calls := 0
	ctx := upstream.WithReclaim(context.Background(), func() bool {
		calls++
		old.Close() // the idle session the front would end
		return true
	})
	rec := newRecorder()
	conn, err := s.Open(ctx, rec)
	if err != nil {
		t.Fatalf("Open on a full pool with a session to give back: %v", err)
	}
	defer conn.Close()
	if calls != 1 {
		t.Errorf("reclaim called %d times, want 1", calls)
	}
	if err := conn.Send(ctx, mustParse(t, initialize)); err != nil {
		t.Fatal(err)
	}
	if m := rec.next(t); !strings.Contains(string(m.Result), "2025-06-18") {
		t.Fatalf("initialize on the new process: %s", m.Raw)
	}
}
