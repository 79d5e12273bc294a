package front

import (
	"context"
	"net/http"
	"testing"
)

// TestGETStreamOpening: from 2025-11-25 on the standalone GET stream opens
// with a priming event (an id at the stream's cursor, empty data), as POST
// streams do; older revisions open with a comment, since their clients
// have no use for an id before the first message.
func TestGETStreamOpening(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version string
		prime   bool
	}{
		{Version20250326, false},
		{Version20250618, false},
		{Version20251125, true},
	} {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			sid := h.initialize(t, tc.version)
			c := h.up.conn(t, 0)

			ctx, drop := context.WithCancel(context.Background())
			first := h.openStream(t, ctx, req{method: http.MethodGet, sid: sid, version: tc.version, tag: "first"})
			wantOpening(t, first.nextBlock(t), tc.prime, "0_0")
			// Two events reach the client, which leaves; a new GET stream
			// (no Last-Event-ID) primes at what was delivered.
			c.emitRaw(t, rpcNotification("notifications/tools/list_changed", ""))
			c.emitRaw(t, rpcNotification("notifications/prompts/list_changed", ""))
			first.nextMessage(t)
			first.nextMessage(t)
			drop()
			within(t, h.handlerDone("first"), "the first GET handler to notice the drop")

			second := h.openStream(t, context.Background(), req{method: http.MethodGet, sid: sid, version: tc.version})
			wantOpening(t, second.nextBlock(t), tc.prime, "0_2")
			c.emitRaw(t, rpcNotification("notifications/resources/list_changed", ""))
			if ev, m := second.nextMessage(t); m.Method != "notifications/resources/list_changed" || ev.id != "0_3" {
				t.Errorf("after the opening: %s with id %q, want resources/list_changed with 0_3", m.raw, ev.id)
			}
		})
	}
}

func wantOpening(t *testing.T, ev sseEvent, prime bool, id string) {
	t.Helper()
	switch {
	case prime && (!ev.hasID || ev.id != id || ev.data != "" || ev.event != ""):
		t.Errorf("GET stream opened with %+v, want a priming event with id %q and empty data", ev, id)
	case !prime && !ev.commentOnly():
		t.Errorf("GET stream opened with %+v, want a comment", ev)
	}
}
