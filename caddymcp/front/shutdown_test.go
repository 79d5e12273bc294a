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
	handoff := wantHandoff(t, get, last.id, nil)
	get.expectEnd(t)

	// While nobody listens, the server sends on.
	c.emitRaw(t, rpcNotification("notifications/resources/list_changed", ""))

	// The client resumes with the id it saw last: the handoff's.
	h2 := h.replacement(t)
	resumed := h2.openStream(t, context.Background(), req{method: http.MethodGet, sid: sid, version: Version20251125, lastEventID: handoff})
	ev, m := resumed.nextMessage(t)
	if m.Method != "notifications/resources/list_changed" {
		t.Errorf("resumed with %s, want the event after %s", m.raw, last.id)
	}
	if _, seq := splitEventID(t, ev.id); ev.id[:2] != "0_" || seq != 2 {
		t.Errorf("resumed event id %q, want 0_2", ev.id)
	}

	// Reload after reload with nothing new to send: each handoff id is new
	// (a resume counts as progress), and each resumes at the same place.
	seen := map[string]bool{handoff: true, ev.id: true}
	prev, lastID := h2, ev.id
	for range 3 {
		prev.server.Shutdown()
		id := wantHandoff(t, resumed, lastID, seen)
		resumed.expectEnd(t)
		prev = prev.replacement(t)
		resumed = prev.openStream(t, context.Background(), req{method: http.MethodGet, sid: sid, version: Version20251125, lastEventID: id})
		lastID = id
	}
	c.emitRaw(t, rpcNotification("notifications/prompts/list_changed", ""))
	if ev, m := resumed.nextMessage(t); m.Method != "notifications/prompts/list_changed" || ev.id != "0_3" {
		t.Errorf("after the reloads: %s with id %q, want prompts/list_changed as 0_3", m.raw, ev.id)
	}

	// The old configuration's POST stream finishes normally.
	h.up.releaseAll()
	if _, m := post.nextMessage(t); string(m.ID) != "1" || m.Result == nil {
		t.Errorf("POST stream got %s", m.raw)
	}
	post.expectEnd(t)

	// And the session carries on under the new configuration.
	wantStatus(t, prev.do(t, req{sid: sid, version: Version20251125, body: toolCall(2, "echo")}), http.StatusOK)
}

// wantHandoff reads the event that ends a stream for a reload or an exit:
// an id never seen before (not in seen, which it joins) that resumes where
// the event with id after left off, a retry hint, and no message.
func wantHandoff(t *testing.T, s *sseStream, after string, seen map[string]bool) string {
	t.Helper()
	ev := s.next(t)
	if !ev.hasID || ev.retry == "" || ev.data != "" || ev.event != "" {
		t.Fatalf("want an id, a retry hint and empty data, got %+v", ev)
	}
	if ev.id == after || seen[ev.id] {
		t.Errorf("the handoff id %q was sent before", ev.id)
	}
	if seen != nil {
		seen[ev.id] = true
	}
	st, seq, err := parseEventID(ev.id)
	wantSt, wantSeq, _ := parseEventID(after)
	if err != nil || st != wantSt || seq != wantSeq {
		t.Errorf("the handoff id %q resumes at %d_%d (%v), want after %s", ev.id, st, seq, err, after)
	}
	return ev.id
}
