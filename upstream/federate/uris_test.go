package federate

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

func TestWrapURI(t *testing.T) {
	servers := []string{"alpha", "Beta-2"}
	for _, tc := range []struct {
		uri    string
		server int
		own    string
		ok     bool
	}{
		{WrapURI("alpha", "file:///readme"), 0, "file:///readme", true},
		{WrapURI("Beta-2", "ui://app/x?y=1#z"), 1, "ui://app/x?y=1#z", true},
		{"MCP+beta-2:file:///readme", 1, "file:///readme", true}, // a scheme is case-insensitive
		{"mcp+gamma:file:///readme", 0, "", false},               // not a server of the federation
		{"mcp+alpha:", 0, "", false},
		{"mcp+:file:///x", 0, "", false},
		{"file:///readme", 0, "", false},
		{"mcp", 0, "", false},
	} {
		s, own, ok := UnwrapURI(tc.uri, servers)
		if s != tc.server || own != tc.own || ok != tc.ok {
			t.Errorf("UnwrapURI(%q) = %d %q %v, want %d %q %v", tc.uri, s, own, ok, tc.server, tc.own, tc.ok)
		}
	}
	// Clients parse it as a URI of the gateway's scheme.
	u, err := url.Parse(WrapURI("Beta-2", "file:///readme"))
	if err != nil || u.Scheme != "mcp+beta-2" || u.Opaque != "file:///readme" {
		t.Errorf("url.Parse: %+v %v", u, err)
	}
}

// sharedReadme gives p a resource file:///readme too, which reads as
// "<name> has file:///readme", and a ui:// resource only it lists.
func sharedReadme(p *peer, name string) {
	read := func(_ context.Context, r *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: r.Params.URI, Text: name + " has " + r.Params.URI}}}, nil
	}
	p.srv.AddResource(&mcp.Resource{Name: "shared", URI: "file:///readme"}, read)
	p.srv.AddResource(&mcp.Resource{Name: "app", URI: "ui://" + name + "/app"}, read)
}

// Two servers list the same URI: the client sees the second's under
// mcp+<server>:, reads each server's own text, and a subscription's
// update reaches it under the URI it subscribed with.
func TestSharedURI(t *testing.T) {
	a, b, ups := twoPeers(t, 0)
	sharedReadme(a, "alpha")
	sharedReadme(b, "beta")
	c := open(t, PrefixNever, []string{"alpha", "beta"}, ups)
	c.initialize()
	got := c.names("resources/list", "resources", "uri")
	want := []string{"alpha://readme", "file:///readme", "ui://alpha/app", "beta://readme", "mcp+beta:file:///readme", "ui://beta/app"}
	if slices.Sort(got); !slices.Equal(got, sorted(want)) {
		t.Errorf("resources %v, want %v", got, want)
	}
	for uri, text0 := range map[string]string{
		"file:///readme":           "alpha has file:///readme",
		"mcp+beta:file:///readme":  "beta has file:///readme",
		"ui://beta/app":            "beta has ui://beta/app",
		"mcp+alpha:file:///readme": "alpha has file:///readme", // the first's, named by its server too
	} {
		if got := text(t, c.call("resources/read", map[string]any{"uri": uri})); got != text0 {
			t.Errorf("resources/read %s: %q, want %q", uri, got, text0)
		}
	}
	if server, own := c.f.Resolve("resources/read", "mcp+beta:file:///readme"); server != "beta" || own != "file:///readme" {
		t.Errorf("Resolve: %q %q", server, own)
	}
	if server, own := c.conn.(upstream.FederatedConn).Resolve("resources/subscribe", "mcp+beta:file:///readme"); server != "beta" || own != "file:///readme" {
		t.Errorf("the session's Resolve: %q %q", server, own)
	}
	c.conn.(upstream.Listener).Listen(true)
	defer c.conn.(upstream.Listener).Listen(false)
	prev := ""
	for _, p := range []struct {
		peer *peer
		uri  string
	}{{b, "mcp+beta:file:///readme"}, {a, "file:///readme"}} {
		if ans := c.call("resources/subscribe", map[string]any{"uri": p.uri}); ans.Error != nil {
			t.Fatalf("subscribe %s: %s", p.uri, ans.Raw)
		}
		if own := <-p.peer.subscribed; own != "file:///readme" {
			t.Errorf("the server was subscribed to %q", own)
		}
		// The update comes on the standalone stream, which the HTTP
		// upstream opens while the client listens: until it is open an
		// update goes unheard, so the server sends again until the client
		// hears it (a retry, not a timing assertion; see TestListChanged).
		var note *pipeline.Message
		for note == nil {
			if err := p.peer.srv.ResourceUpdated(context.Background(), &mcp.ResourceUpdatedNotificationParams{URI: "file:///readme"}); err != nil {
				t.Fatal(err)
			}
			select {
			case note = <-c.notes:
			case <-time.After(100 * time.Millisecond):
			}
			if note != nil {
				var params struct{ URI string }
				_ = json.Unmarshal(note.Params, &params)
				if params.URI == prev { // a late copy of the previous subscription's retries
					note = nil
				}
			}
		}
		var params struct{ URI string }
		_ = json.Unmarshal(note.Params, &params)
		if note.Method != "notifications/resources/updated" || params.URI != p.uri {
			t.Errorf("update %s %s, want %s", note.Method, note.Params, p.uri)
		}
		prev = p.uri
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// A 2026-07-28 client lists and reads both copies as a session's does.
func TestStatelessSharedURI(t *testing.T) {
	a, b := newPeer(t, "a", 0, modern(30000, "public")), newPeer(t, "b", 0, modern(30000, "public"))
	sharedReadme(a, "a")
	sharedReadme(b, "b")
	f := federation2026(t, PrefixAlways, []string{"a", "b"}, []upstream.Upstream{a.up, b.up})
	got := names2026(t, f, "resources/list", "resources", "uri", 30000, "public")
	if !slices.Contains(got, "file:///readme") || !slices.Contains(got, "mcp+b:file:///readme") {
		t.Errorf("resources %v", got)
	}
	for uri, want := range map[string]string{"file:///readme": "a has file:///readme", "mcp+b:file:///readme": "b has file:///readme"} {
		ans, err := call2026(t, f, "resources/read", map[string]any{"uri": uri}, uri)
		if err != nil {
			t.Fatal(err)
		}
		if got := text(t, ans); got != want {
			t.Errorf("resources/read %s: %q, want %q", uri, got, want)
		}
	}
}
