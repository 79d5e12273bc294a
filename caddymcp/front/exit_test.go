package front

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// TestExitEndsSessionStreams: at exit every long stream of a session ends,
// so that the HTTP server's shutdown waits for none of them: the standalone
// GET stream and a POST stream still waiting with a fresh id and a retry
// hint, a POST not yet answered (2025-06-18, plain JSON) with 503, and a
// 2024-11-05 stream with its session.
func TestExitEndsSessionStreams(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	sid := h.initialize(t, Version20251125)
	get := h.openStream(t, context.Background(), req{method: http.MethodGet, sid: sid, version: Version20251125})
	opening := get.nextBlock(t)
	post := h.openStream(t, context.Background(), req{sid: sid, version: Version20251125, body: toolCall(1, "hang")})
	prime := post.next(t)
	h.up.conn(t, 0).waitMethod(t, "tools/call", "1")

	old := h.initialize(t, Version20250618)
	plain := h.start(t, req{sid: old, version: Version20250618, body: toolCall(2, "hang")})
	h.up.conn(t, 1).waitMethod(t, "tools/call", "2")

	lc := h.openSSE2024(t, req{})
	lc.initialize(t, Version20241105)
	sse2024Conn := h.up.conn(t, 2)

	h.server.Exit()
	h.server.Exit() // idempotent

	wantHandoff(t, get, opening.id, nil)
	get.expectEnd(t)
	wantHandoff(t, post, prime.id, nil)
	post.expectEnd(t)
	rp := plain.wait(t)
	wantError(t, rp, http.StatusServiceUnavailable, pipeline.CodeInternalError, "shutting down")
	lc.stream.expectEnd(t)
	sse2024Conn.waitClosed(t)
	if h.store.get(lc.sid) != nil {
		t.Error("the 2024-11-05 session outlived its stream")
	}

	// A GET opened after the exit began ends at once, the same way.
	late := h.openStream(t, context.Background(), req{method: http.MethodGet, sid: sid, version: Version20251125})
	late.next(t) // priming
	late.next(t) // handoff
	late.expectEnd(t)
}

// TestExitCancelsStatelessCalls: at exit a 2026-07-28 call still streaming (a
// subscriptions/listen stream never ends on its own) is cancelled and its
// response stream ends.
func TestExitCancelsStatelessCalls(t *testing.T) {
	t.Parallel()
	cancelled := make(chan struct{})
	fake := &statelessFake{seen: make(chan *upstream.StatelessRequest, 1), call: func(ctx context.Context, req *upstream.StatelessRequest, d func(*pipeline.Message, int)) error {
		d(pipeline.NewNotification("notifications/subscriptions/acknowledged", []byte(`{}`)), http.StatusOK)
		<-ctx.Done()
		close(cancelled)
		return ctx.Err()
	}}
	store := NewStore(Limits{}, nil)
	srv, err := New(Config{Upstream: fake, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); store.Close("test done") })

	body := `{"jsonrpc":"2.0","id":"listen-1","method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true},` + statelessMeta + `}}`
	resp, err := http.DefaultClient.Do(statelessRequest(t, ts.URL, body, map[string]string{"Mcp-Method": "subscriptions/listen"}))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("listen answered %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	srv.Shutdown() // a reload leaves the listen stream alone
	srv.Exit()
	within(t, cancelled, "the exit to cancel the upstream call")
	read := make(chan string, 1)
	go func() { b, _ := io.ReadAll(resp.Body); read <- string(b) }()
	select {
	case b := <-read:
		if !strings.Contains(b, "notifications/subscriptions/acknowledged") {
			t.Errorf("the listen stream carried %q", b)
		}
	case <-time.After(waitLimit):
		t.Fatal("the listen stream did not end at exit")
	}
}

// TestShutdownKeepsStatelessCalls: a reload (Shutdown) neither cancels a
// 2026-07-28 listen stream nor ends it: the go-sdk opens subscriptions/listen
// once per connection and would not subscribe again.
func TestShutdownKeepsStatelessCalls(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	fake := &statelessFake{seen: make(chan *upstream.StatelessRequest, 1), call: func(ctx context.Context, req *upstream.StatelessRequest, d func(*pipeline.Message, int)) error {
		d(pipeline.NewNotification("notifications/subscriptions/acknowledged", []byte(`{}`)), http.StatusOK)
		select {
		case <-release:
			d(pipeline.NewNotification("notifications/tools/list_changed", nil), http.StatusOK)
			d(pipeline.NewResult(req.Message.ID, []byte(`{"resultType":"complete"}`)), http.StatusOK)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	store := NewStore(Limits{}, nil)
	srv, err := New(Config{Upstream: fake, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); store.Close("test done") })
	body := `{"jsonrpc":"2.0","id":7,"method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true},` + statelessMeta + `}}`
	resp, err := http.DefaultClient.Do(statelessRequest(t, ts.URL, body, map[string]string{"Mcp-Method": "subscriptions/listen"}))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	srv.Shutdown()
	close(release)
	b, err := io.ReadAll(resp.Body)
	if err != nil || !strings.Contains(string(b), "notifications/tools/list_changed") || !strings.Contains(string(b), `"id":`+strconv.Itoa(7)) {
		t.Errorf("after Shutdown the listen stream carried %q (%v), want the notification and the result", b, err)
	}
}
