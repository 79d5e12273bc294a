package front

import (
	"net/http"
	"testing"
)

// TestAwaitedSends: the upstream hears that the handler waits for nothing
// but a request's answer (upstream.AwaitedSender) exactly when the POST
// carries that one message; a batch's requests are sent one after another,
// and none may hold up the next.
func TestAwaitedSends(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20250326)
	c := h.up.conn(t, 0)
	for _, tc := range []struct {
		name, body, id string
		awaited        bool
	}{
		{"one request", toolCall(1, "echo"), "1", true},
		{"a batch of one request", "[" + toolCall(2, "echo") + "]", "2", true},
		{"a request and a notification", "[" + toolCall(3, "echo") + "," + rpcNotification("notifications/x", "") + "]", "3", false},
		{"two requests", "[" + toolCall(4, "echo") + "," + toolCall(5, "echo") + "]", "4", false},
	} {
		rp := h.do(t, req{sid: sid, body: tc.body})
		wantStatus(t, rp, http.StatusOK)
		c.mu.Lock()
		awaited, sent := c.awaited[tc.id]
		c.mu.Unlock()
		if !sent || awaited != tc.awaited {
			t.Errorf("%s: request %s sent %v, awaited %v; want awaited %v", tc.name, tc.id, sent, awaited, tc.awaited)
		}
	}
}
