package front

import (
	"context"
	"net/http"
	"testing"
)

// TestStoreNotify: a notification of the gateway's own reaches every live
// session's GET stream, each as a message of its own; a session whose
// client does not listen yet finds it in its GET stream's buffer.
func TestStoreNotify(t *testing.T) {
	h := newHarness(t)
	listening := h.initialize(t, Version20251125)
	later := h.initialize(t, Version20250618)
	stream := h.openStream(t, context.Background(), req{method: http.MethodGet, sid: listening, version: Version20251125})
	stream.nextBlock(t) // the priming event

	h.store.Notify("notifications/tools/list_changed", nil)

	if _, m := stream.nextMessage(t); m.Method != "notifications/tools/list_changed" {
		t.Errorf("the listening session got %s", m.raw)
	}
	opened := h.openStream(t, context.Background(), req{method: http.MethodGet, sid: later, version: Version20250618})
	opened.nextBlock(t) // the opening comment
	if _, m := opened.nextMessage(t); m.Method != "notifications/tools/list_changed" {
		t.Errorf("the session that listened later got %s", m.raw)
	}
}
