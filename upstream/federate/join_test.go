package federate

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// attachClient joins es on a federation of ups named names, as another
// instance of a cluster would, and returns its client.
func attachClient(t *testing.T, names []string, ups []upstream.Upstream, es []upstream.Existing) *client {
	t.Helper()
	cfg := Config{ServerName: "Acme tools"}
	for i, n := range names {
		cfg.Servers = append(cfg.Servers, Server{Name: n, Upstream: ups[i]})
	}
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, f: f, waiters: map[string]chan *pipeline.Message{}, notes: make(chan *pipeline.Message, 64), closed: make(chan error, 1)}
	c.conn, err = f.AttachSessions(context.Background(), c, "2025-11-25", es)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Detached: the sessions stay for the next instance to join.
		c.conn.(upstream.Detacher).Detach()
		f.Wait()
	})
	return c
}

// TestJoinedIDs: the gateway ids of a joined session do not count from 1,
// as those of the instance that began it do: a server in both sessions
// would otherwise get two requests in flight under one id.
func TestJoinedIDs(t *testing.T) {
	a := newPeer(t, "alpha", 0)
	names, ups := []string{"alpha"}, []upstream.Upstream{a.up}
	t.Cleanup(func() {
		for ss := range a.srv.Sessions() {
			_ = ss.Close()
		}
	})
	first := open(t, PrefixAlways, names, ups)
	first.initialize()
	es, _ := first.conn.(upstream.SessionsJoinable).ExistingSessions()
	joined, other := attachClient(t, names, ups, es), attachClient(t, names, ups, es)
	began, j1, j2 := first.conn.(*conn).newID(), joined.conn.(*conn).newID(), other.conn.(*conn).newID()
	var n int64
	if err := json.Unmarshal(j1, &n); err != nil || n < joinedIDBase || string(j1) == string(j2) || string(began) == string(j1) {
		t.Errorf("ids: %s where the session began, %s and %s where it was joined", began, j1, j2)
	}
}

// TestAttachSessions: a federated session's server sessions, named by
// ExistingSessions, are joined by another federation of the same servers
// with no new initialize; a server the names leave out gets a session of
// its own there, and the client hears list_changed.
func TestAttachSessions(t *testing.T) {
	a, b := newPeer(t, "alpha", 0), newPeer(t, "beta", 0)
	names, ups := []string{"alpha", "beta"}, []upstream.Upstream{a.up, b.up}
	t.Cleanup(func() {
		// What every instance only detached, the servers end here.
		for _, p := range []*peer{a, b} {
			for ss := range p.srv.Sessions() {
				_ = ss.Close()
			}
		}
	})
	first := open(t, PrefixAlways, names, ups)
	first.initialize()
	es, ok := first.conn.(upstream.SessionsJoinable).ExistingSessions()
	if !ok || len(es) != 2 || es[0].Server != "alpha" || es[1].Server != "beta" || es[0].SessionID == "" {
		t.Fatalf("ExistingSessions = %+v, %v", es, ok)
	}
	first.conn.(upstream.Listener).Listen(true)

	for _, tc := range []struct {
		name  string
		es    []upstream.Existing
		fresh bool
	}{
		{"both sessions", es, false},
		{"beta left out", es[:1], true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := attachClient(t, names, ups, tc.es)
			got := c.names("tools/list", "tools", "name")
			slices.Sort(got)
			if want := []string{"alpha_ask", "alpha_echo", "alpha_own_alpha", "beta_ask", "beta_echo", "beta_own_beta"}; !slices.Equal(got, want) {
				t.Fatalf("tools/list %v, want %v", got, want)
			}
			for _, tool := range []string{"alpha_echo", "beta_echo"} {
				if s := text(t, c.call("tools/call", map[string]any{"name": tool, "arguments": map[string]string{"text": "x"}})); s != tool[:len(tool)-5]+":echo:x" {
					t.Errorf("%s answered %q", tool, s)
				}
			}
			if tc.fresh {
				// beta joined with a fresh session: the client is told of the
				// lists it had not read (prompts, resources). Whether it is told
				// of tools depends on whether its tools/list above came before
				// the notice's window closed: a list it already read with beta's
				// tools in it is not announced again.
				heard := map[string]bool{}
				for !heard["notifications/prompts/list_changed"] || !heard["notifications/resources/list_changed"] {
					select {
					case n := <-c.notes:
						heard[n.Method] = true
					case <-time.After(30 * time.Second):
						t.Fatalf("the client heard %v, want prompts and resources list_changed among them", heard)
					}
				}
			}
		})
	}
}

// TestResumeGetNamesServer: a message's upstream event id names its server
// (named), and ResumeGet hands such an id to that server's connection
// alone; an id of no server, or of no server form, resumes nothing.
func TestResumeGetNamesServer(t *testing.T) {
	a, b := newPeer(t, "alpha", 0), newPeer(t, "beta", 0)
	c := open(t, PrefixAlways, []string{"alpha", "beta"}, []upstream.Upstream{a.up, b.up})
	c.initialize()
	fc := c.conn.(*conn)
	msg, _ := pipeline.Parse([]byte(`{"jsonrpc":"2.0","method":"notifications/message","params":{}}`))
	msg.EventID = "_3"
	if got := fc.members[1].named(msg, nil).EventID; got != "beta:_3" {
		t.Fatalf("named: %q", got)
	}
	msg.EventID = "_4" // on the stream answering the gateway's request 5
	if got := fc.members[1].named(msg, json.RawMessage("5")).EventID; got != "beta:5:_4" {
		t.Fatalf("named on a request's stream: %q", got)
	}
	for id, want := range map[string]bool{"beta:_3": true, "gamma:_3": false, "_3": false} {
		if got := fc.ResumeGet(id); got != want {
			t.Errorf("ResumeGet(%q) = %v, want %v", id, got, want)
		}
	}
	fc.Listen(true) // the servers' GET streams run: nothing to resume
	defer fc.Listen(false)
	if fc.ResumeGet("alpha:_1") {
		t.Error("ResumeGet took an id while the server's GET stream runs")
	}
}
