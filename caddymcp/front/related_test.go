package front

import (
	"context"
	"net/http"
	"testing"
)

// TestDeliverRelated: a message the upstream relates to a request in flight
// takes that request's stream, even with several in flight; related to no
// request in flight, it falls back to the usual routing.
func TestDeliverRelated(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20251125)
	c := h.up.conn(t, 0)
	a := h.openStream(t, context.Background(), req{sid: sid, version: Version20251125, body: toolCall("a", "wait")})
	b := h.openStream(t, context.Background(), req{sid: sid, version: Version20251125, body: toolCall("b", "wait")})
	a.next(t)
	b.next(t)
	c.waitMethod(t, "tools/call", `"a"`)
	c.waitMethod(t, "tools/call", `"b"`)
	get := h.openStream(t, context.Background(), req{method: http.MethodGet, sid: sid, version: Version20251125})

	c.emitRelated(t, rpcRequest("srv-x", "elicitation/create", `{"message":"sure?"}`), `"b"`)
	if _, m := b.nextMessage(t); m.Method != "elicitation/create" {
		t.Fatalf("b's stream got %s, want the related elicitation", m.raw)
	}
	c.emitRelated(t, rpcNotification("notifications/message", `{"level":"info","data":"x"}`), `"gone"`)
	if _, m := get.nextMessage(t); m.Method != "notifications/message" {
		t.Fatalf("GET stream got %s, want the log message related to no request in flight", m.raw)
	}
	h.up.releaseAll()
	for name, st := range map[string]*sseStream{`"a"`: a, `"b"`: b} {
		if _, m := st.nextMessage(t); string(m.ID) != name {
			t.Errorf("%s's stream got %s", name, m.raw)
		}
		st.expectEnd(t)
	}
}

// TestListener: an upstream that is a Listener hears when a client's GET
// stream opens and closes, counted across overlapping streams.
func TestListener(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20250618)
	c := h.up.conn(t, 0)
	c.waitListening(t, 0)

	ctx1, close1 := context.WithCancel(context.Background())
	first := h.openStream(t, ctx1, req{method: http.MethodGet, sid: sid, version: Version20250618, tag: "get1"})
	first.nextBlock(t)
	c.waitListening(t, 1)

	second := h.openStream(t, context.Background(), req{method: http.MethodGet, sid: sid, version: Version20250618, tag: "get2"})
	second.nextBlock(t)
	first.expectEnd(t) // taken over
	within(t, h.handlerDone("get1"), "the first GET handler to return")
	close1()
	c.waitListening(t, 1)

	// A POST stream resumed by GET is not listening for unrelated messages.
	ctx3, drop := context.WithCancel(context.Background())
	post := h.openStream(t, ctx3, req{sid: sid, version: Version20251125, tag: "post", body: toolCall(1, "wait")})
	prime := post.next(t)
	drop()
	within(t, h.handlerDone("post"), "the POST handler to return")
	resumed := h.openStream(t, context.Background(), req{method: http.MethodGet, sid: sid, version: Version20251125, lastEventID: prime.id})
	h.up.releaseAll()
	resumed.nextMessage(t)
	resumed.expectEnd(t)
	c.waitListening(t, 1)

	wantStatus(t, h.do(t, req{method: http.MethodDelete, sid: sid, version: Version20250618}), http.StatusNoContent)
	second.expectEnd(t)
	within(t, h.handlerDone("get2"), "the second GET handler to return")
	c.waitListening(t, 0)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.listenLog) != 4 {
		t.Errorf("Listen calls %v, want [true true false false]", c.listenLog)
	}
}
