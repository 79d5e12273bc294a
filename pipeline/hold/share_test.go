package hold_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline/hold"
)

// TestClientShare: one client's holds cannot fill max_held for everyone.
// Each client may hold max/(clients+1) (at least 1), clients counting those
// holding, itself included; past its share a client's hold is refused at
// once (the caller applies the rule's timeout action) while other clients'
// still hold, up to max in all. Holds without a client count only against
// max.
func TestClientShare(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		max   int
		holds string // one letter per hold, its client ("-": none); upper case: refused
	}{
		{"alone, half of max_held", 4, "aaA"},
		{"past its share, only its own holds are refused", 4, "aaAbBcD"},
		{"a share is at least one", 2, "abC"},
		{"max_held still bounds everyone", 1, "aB"},
		{"no client: max_held alone", 3, "---A"},
		{"the default (100), alone", 100, strings.Repeat("a", 50) + "A" + "b"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := hold.NewRegistry()
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			defer wg.Wait()
			defer cancel()
			for i, l := range c.holds {
				client := strings.ToLower(string(l))
				if client == "-" {
					client = ""
				}
				refused := strings.ToUpper(string(l)) == string(l) && l != '-'
				if got := holdAs(t, r, ctx, &wg, client, c.max); got != !refused {
					t.Fatalf("hold #%d of client %q: admitted = %v, want %v", i+1, client, got, !refused)
				}
			}
		})
	}
}

// holdAs holds a message of client in the background until ctx ends and
// reports whether the registry admitted it; a refused one ended at once as
// timed out.
func holdAs(t *testing.T, r *hold.Registry, ctx context.Context, wg *sync.WaitGroup, client string, max int) bool {
	t.Helper()
	events, stop := r.Listen()
	defer stop()
	refused := make(chan hold.Decision, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if d, ok := r.Hold(ctx, hold.Entry{Endpoint: "ep", Rule: "approve", Client: client}, request(t), max, 0); !ok {
			refused <- d
		}
	}()
	select {
	case ev := <-events:
		if ev.Type != "held" {
			t.Fatalf("first event %+v", ev)
		}
		return true
	case d := <-refused:
		if d.Kind != hold.TimedOut {
			t.Errorf("a refused hold ended %q, want %q (the rule's timeout action)", d.Kind, hold.TimedOut)
		}
		return false
	case <-time.After(10 * time.Second):
		t.Fatal("the hold was neither admitted nor refused")
	}
	return false
}
