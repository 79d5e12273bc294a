package front

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// replacement serves the same store and upstream with a new Server, as a
// config reload does.
func (h *harness) replacement(t *testing.T) *harness {
	t.Helper()
	srv, err := New(Config{Upstream: h.up, Store: h.store})
	if err != nil {
		t.Fatal(err)
	}
	h2 := &harness{t: t, up: h.up, store: h.store, server: srv, done: make(map[string]chan struct{})}
	h2.srv = httptest.NewServer(h2.wrap(srv))
	t.Cleanup(h2.srv.Close) // before the store closes: its streams end with their clients
	return h2
}

// TestShutdownHandsOverGETStream: when a configuration is unloaded its GET
// streams end with a retry hint; the client reconnects to the new
// configuration with Last-Event-ID and resumes from the shared buffer.
func TestShutdownHandsOverGETStream(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20251125)
	c := h.up.conn(t, 0)
	get := h.openStream(t, context.Background(), req{method: http.MethodGet, sid: sid, version: Version20251125})
	get.nextBlock(t)
	c.emitRaw(t, rpcNotification("notifications/tools/list_changed", ""))
	last, _ := get.nextMessage(t)

	// A POST stream in flight is not cut by the shutdown.
	post := h.openStream(t, context.Background(), req{sid: sid, version: Version20251125, body: toolCall(1, "wait")})
	post.next(t) // priming
	c.waitMethod(t, "tools/call", "1")

	h.server.Shutdown()
	h.server.Shutdown() // idempotent
	ev := get.next(t)
	if ev.retry == "" || ev.hasID || ev.hasData {
		t.Errorf("want a retry hint, got %+v", ev)
	}
	get.expectEnd(t)

	// While nobody listens, the server sends on.
	c.emitRaw(t, rpcNotification("notifications/resources/list_changed", ""))

	h2 := h.replacement(t)
	resumed := h2.openStream(t, context.Background(), req{method: http.MethodGet, sid: sid, version: Version20251125, lastEventID: last.id})
	ev, m := resumed.nextMessage(t)
	if m.Method != "notifications/resources/list_changed" {
		t.Errorf("resumed with %s, want the event after %s", m.raw, last.id)
	}
	if _, seq := splitEventID(t, ev.id); ev.id[:2] != "0_" || seq != 2 {
		t.Errorf("resumed event id %q, want 0_2", ev.id)
	}

	// The old configuration's POST stream finishes normally.
	h.up.releaseAll()
	if _, m := post.nextMessage(t); string(m.ID) != "1" || m.Result == nil {
		t.Errorf("POST stream got %s", m.raw)
	}
	post.expectEnd(t)

	// And the session carries on under the new configuration.
	wantStatus(t, h2.do(t, req{sid: sid, version: Version20251125, body: toolCall(2, "echo")}), http.StatusOK)
}
