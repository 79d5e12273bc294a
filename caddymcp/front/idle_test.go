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
