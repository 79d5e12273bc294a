package front

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestIdleTimeout: the reaper ends a session idle for longer than the idle
// timeout (its upstream closes, its id is then 404) but never one a client
// listens to. The reaper ticks once a second, so this takes about 2s.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *setup) { s.idle = time.Second })

	// listened is older than idle, but has an open GET stream.
	listened := h.initialize(t, Version20250618)
	get := h.openStream(t, context.Background(), req{method: http.MethodGet, sid: listened, version: Version20250618})
	get.nextBlock(t)
	idle := h.initialize(t, Version20250618)

	h.up.conn(t, 1).waitClosed(t) // idle's upstream
	wantError(t, h.do(t, req{sid: idle, version: Version20250618, body: toolCall(1, "echo")}),
		http.StatusNotFound, codeSessionNotFound, "Session not found")

	// listened was idle for longer still, but it is listened to.
	if h.up.conn(t, 0).isClosed() {
		t.Fatal("the reaper ended a session with an open GET stream")
	}
	wantStatus(t, h.do(t, req{sid: listened, version: Version20250618, body: toolCall(2, "echo")}), http.StatusOK)
	c := h.up.conn(t, 0)
	c.emitRaw(t, rpcNotification("notifications/tools/list_changed", ""))
	if _, m := get.nextMessage(t); m.Method != "notifications/tools/list_changed" {
		t.Errorf("GET stream got %s", m.raw)
	}
}

// TestIdleKeepsWorkInFlight: a 2025 client that dropped its stream while its
// request runs on has not gone idle — the request's answer waits for its
// resume — so the reaper leaves the session alone until the work is done.
func TestIdleKeepsWorkInFlight(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *setup) { s.idle = time.Second })
	sid := h.initialize(t, Version20251125)
	c := h.up.conn(t, 0)
	ctx, drop := context.WithCancel(context.Background())
	st := h.openStream(t, ctx, req{sid: sid, version: Version20251125, tag: "post", body: toolCall(5, "wait")})
	st.next(t) // the priming event
	c.waitMethod(t, "tools/call", "5")
	drop()
	within(t, h.handlerDone("post"), "the POST handler to notice the drop")

	time.Sleep(2500 * time.Millisecond) // two reaper ticks past the idle timeout
	if c.isClosed() {
		t.Fatal("the reaper ended a session whose request is still in flight")
	}
	h.up.releaseAll()
	c.waitClosed(t) // answered, nothing in flight: now it is idle
}
