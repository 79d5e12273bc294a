package front

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// TestResumeAfterDrop: a 2025-11-25 client whose connection drops after the
// priming event resumes with GET + Last-Event-ID and gets the response the
// server sent while it was away. The drop does not cancel the request.
func TestResumeAfterDrop(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20251125)
	c := h.up.conn(t, 0)

	ctx, drop := context.WithCancel(context.Background())
	st := h.openStream(t, ctx, req{sid: sid, version: Version20251125, tag: "post", body: toolCall(11, "wait")})
	prime := st.next(t)
	index, seq := splitEventID(t, prime.id)
	if seq != 0 {
		t.Fatalf("priming id %q", prime.id)
	}
	c.waitMethod(t, "tools/call", "11")
	drop()
	within(t, h.handlerDone("post"), "the POST handler to notice the drop")

	h.up.releaseAll() // the server answers while nobody listens
	rp := h.do(t, req{method: http.MethodGet, sid: sid, version: Version20251125, lastEventID: prime.id})
	wantStatus(t, rp, http.StatusOK)
	if !rp.isSSE() || len(rp.events) != 1 {
		t.Fatalf("want exactly the response replayed, got %s", rp)
	}
	ev := rp.events[0]
	if ev.id != strconv.FormatUint(index, 10)+"_1" {
		t.Errorf("replayed event id = %q, want %d_1", ev.id, index)
	}
	if m := decodeMsg(t, []byte(ev.data)); string(m.ID) != "11" || m.Result == nil {
		t.Errorf("replayed %s, want the response to 11", m.raw)
	}
	for _, m := range []string{"notifications/cancelled"} {
		c.mu.Lock()
		for _, got := range c.received {
			if got.Method == m {
				t.Errorf("a dropped connection sent %s upstream", got.Raw)
			}
		}
		c.mu.Unlock()
	}

	// Resuming again after the last event: the stream is over, nothing
	// more comes, and it is not a 404.
	again := h.do(t, req{method: http.MethodGet, sid: sid, version: Version20251125, lastEventID: ev.id})
	wantStatus(t, again, http.StatusOK)
	if len(again.messages(t)) != 0 {
		t.Errorf("second resume replayed %s", again)
	}
}

// TestResumeWhileRunning: a GET with Last-Event-ID takes over a POST stream
// whose request is still running and gets its response when it comes.
func TestResumeWhileRunning(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20251125)
	c := h.up.conn(t, 0)
	ctx, drop := context.WithCancel(context.Background())
	st := h.openStream(t, ctx, req{sid: sid, version: Version20251125, tag: "post", body: rpcRequest(12, "tools/call",
		`{"name":"wait","_meta":{"progressToken":12}}`)})
	prime := st.next(t)
	c.waitMethod(t, "tools/call", "12")
	drop()
	within(t, h.handlerDone("post"), "the POST handler to notice the drop")

	resumed := h.openStream(t, context.Background(), req{method: http.MethodGet, sid: sid, version: Version20251125, lastEventID: prime.id})
	c.emitRaw(t, `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":12,"progress":1}}`)
	_, m := resumed.nextMessage(t)
	if m.Method != "notifications/progress" {
		t.Fatalf("got %s, want the progress", m.raw)
	}
	h.up.releaseAll()
	_, m = resumed.nextMessage(t)
	if string(m.ID) != "12" || m.Result == nil {
		t.Fatalf("got %s, want the response to 12", m.raw)
	}
	resumed.expectEnd(t)
}

// TestLastEventID: a malformed id is 400; a well-formed id of a stream
// that is gone is an empty stream, never a 404 that would kill a live
// session.
func TestLastEventID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		id     string
		status int
	}{
		{"garbage", "garbage", http.StatusBadRequest},
		{"no separator", "17", http.StatusBadRequest},
		{"empty stream part", "_3", http.StatusBadRequest},
		{"empty seq part", "3_", http.StatusBadRequest},
		{"negative", "-1_3", http.StatusBadRequest},
		{"overflow", "99999999999999999999_1", http.StatusBadRequest},
		{"stream that never existed", "999_3", http.StatusBadRequest},
		{"finished and forgotten stream", "1_1", http.StatusOK}, // the initialize stream, delivered in full
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			sid := h.initialize(t, Version20251125)
			rp := h.do(t, req{method: http.MethodGet, sid: sid, version: Version20251125, lastEventID: tc.id})
			if tc.status == http.StatusBadRequest {
				wantError(t, rp, http.StatusBadRequest, pipeline.CodeInvalidRequest, "Last-Event-ID")
				return
			}
			wantStatus(t, rp, tc.status)
			if !rp.isSSE() || len(rp.messages(t)) != 0 {
				t.Errorf("want an empty event stream, got %s", rp)
			}
			// The session lives on.
			wantStatus(t, h.do(t, req{sid: sid, version: Version20251125, body: toolCall(1, "echo")}), http.StatusOK)
		})
	}
}

// TestStaleGETResume: a Last-Event-ID older than the replay buffer holds
// resumes from the oldest event still held.
func TestStaleGETResume(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *setup) { s.cfg.ReplayEvents = 2 })
	sid := h.initialize(t, Version20251125)
	c := h.up.conn(t, 0)
	for i := 1; i <= 5; i++ {
		c.emitRaw(t, rpcNotification("notifications/resources/updated", `{"uri":"file:///`+strconv.Itoa(i)+`"}`))
	}
	rpCtx, stop := context.WithCancel(context.Background())
	defer stop()
	st := h.openStream(t, rpCtx, req{method: http.MethodGet, sid: sid, version: Version20251125, lastEventID: "0_1"})
	for _, want := range []string{"0_4", "0_5"} {
		ev, m := st.nextMessage(t)
		if ev.id != want {
			t.Errorf("event id = %q, want %q (%s)", ev.id, want, m.raw)
		}
	}
	c.emitRaw(t, rpcNotification("notifications/resources/updated", `{"uri":"file:///6"}`))
	if ev, _ := st.nextMessage(t); ev.id != "0_6" {
		t.Errorf("live event id = %q, want 0_6", ev.id)
	}
}
