package front

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/cache"
)

// publicLists answers every 2026-07-28 request with a public result and
// counts them; it opens no session.
type publicLists struct{ calls atomic.Int32 }

func (p *publicLists) Open(context.Context, upstream.Receiver) (upstream.Conn, error) {
	return nil, errors.New("no sessions here")
}

func (p *publicLists) Call(_ context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
	p.calls.Add(1)
	deliver(pipeline.NewResult(req.Message.ID, json.RawMessage(`{"tools":[],"ttlMs":60000,"cacheScope":"public"}`)), 200)
	return nil
}

// TestSessionNotificationInvalidatesCache: a list_changed that reaches a
// 2025 session from its upstream drops what the endpoint's cache keeps for
// 2026 clients, since the server says the list changed.
func TestSessionNotificationInvalidatesCache(t *testing.T) {
	up := &publicLists{}
	store := NewStore(Limits{}, nil)
	defer store.Close("test over")
	s, err := New(Config{Upstream: up, Store: store, Cache: cache.New(cache.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	list := func() {
		t.Helper()
		req := &upstream.StatelessRequest{Message: mustParse(t, rpcRequest(1, "tools/list", `{}`))}
		if err := s.stateless.Call(context.Background(), req, func(*pipeline.Message, int) {}); err != nil {
			t.Fatal(err)
		}
	}
	list()
	list()
	if n := up.calls.Load(); n != 1 {
		t.Fatalf("the upstream got %d tools/list, want 1 (the second from the cache)", n)
	}
	sess := newSession(store, "", s.settings, Version20251125)
	sess.Deliver(pipeline.NewNotification("notifications/tools/list_changed", nil))
	list()
	if n := up.calls.Load(); n != 2 {
		t.Errorf("the upstream got %d tools/list, want 2 (the cache dropped the list)", n)
	}
}
