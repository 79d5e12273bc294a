package front

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// newStatelessServerWith is newStatelessServer with a Config to start from.
func newStatelessServerWith(t *testing.T, cfg Config, call func(context.Context, *upstream.StatelessRequest, func(*pipeline.Message, int)) error) (*httptest.Server, *statelessFake) {
	t.Helper()
	fake := &statelessFake{call: call, seen: make(chan *upstream.StatelessRequest, 64)}
	store := NewStore(Limits{}, nil)
	cfg.Upstream, cfg.Store = fake, store
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); store.Close("test done") })
	return ts, fake
}

// TestStatelessPassesUser: the authenticated user of a 2026-07-28 request
// reaches the upstream, which partitions shared processes by it.
func TestStatelessPassesUser(t *testing.T) {
	ts, fake := newStatelessServerWith(t, Config{Clients: headerUsers}, echoCall)
	call := `{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{` + statelessMeta + `}}`
	for _, user := range []string{"alice", ""} {
		resp, err := http.DefaultClient.Do(statelessRequest(t, ts.URL, call, map[string]string{"Mcp-Method": "tools/list", "X-Test-User": user}))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if got := (<-fake.seen).User; got != user {
			t.Fatalf("upstream saw user %q, want %q", got, user)
		}
	}
}
