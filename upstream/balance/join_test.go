package balance

import (
	"context"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// TestGroupAttach: a session begun through one group is joined through
// another (as another gateway instance would) on the member it began on,
// named in Existing, whatever the policy would pick; a member the group
// does not have is refused.
func TestGroupAttach(t *testing.T) {
	first, _, _ := httpMember(t, "first", sessionful(t, "first"), false)
	second, secondLog, _ := httpMember(t, "second", sessionful(t, "second"), false)
	g, err := New(Config{Members: []*Member{second, first}}) // First picks "second"
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Wait)
	in := newInbox()
	conn, err := g.Open(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Send(context.Background(), request(t, realInitialize)); err != nil {
		t.Fatal(err)
	}
	in.next(t)
	_ = conn.Send(context.Background(), request(t, initialized))
	e, ok := conn.(upstream.Joinable).Existing()
	if !ok || e.Member != "second" || e.SessionID == "" || e.Version != "2025-11-25" {
		t.Fatalf("Existing: %+v, %v", e, ok)
	}

	other, err := New(Config{Members: []*Member{first, second}}) // First would pick "first"
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Wait)
	in2 := newInbox()
	joined, err := other.Attach(context.Background(), in2, e)
	if err != nil {
		t.Fatal(err)
	}
	if err := joined.Send(context.Background(), request(t, whoami)); err != nil {
		t.Fatal(err)
	}
	if m := in2.next(t); m.Error != nil || !strings.Contains(string(m.Result), `"text":"second"`) {
		t.Fatalf("tools/call through the joined conn answered %s", m.Raw)
	}
	joined.(upstream.Detacher).Detach()
	if _, err := other.Attach(context.Background(), newInbox(), upstream.Existing{Member: "gone", SessionID: e.SessionID}); err == nil {
		t.Error("Attach to a member the group does not have succeeded")
	}
	conn.Close()
	second.Upstream().(interface{ Wait() }).Wait()
	if got := secondLog.methods(); got != "initialize notifications/initialized ping tools/call" {
		t.Errorf("the member got %q", got)
	}
	if first.Sessions() != 0 || second.Sessions() != 0 {
		t.Errorf("sessions left: first %d, second %d", first.Sessions(), second.Sessions())
	}
}
