package front

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// TestProgressRouting: with two requests in flight, progress goes to the
// stream of the request that holds its token.
func TestProgressRouting(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20251125)
	c := h.up.conn(t, 0)

	a := h.openStream(t, context.Background(), req{sid: sid, version: Version20251125, body: rpcRequest("a", "tools/call",
		`{"name":"wait","_meta":{"progressToken":"tok-a"}}`)})
	a.next(t) // priming
	c.waitMethod(t, "tools/call", `"a"`)

	// b reports progress (tok-b) and answers while a is still in flight.
	b := h.do(t, req{sid: sid, version: Version20251125, body: rpcRequest("b", "tools/call",
		`{"name":"progress","_meta":{"progressToken":"tok-b"}}`)})
	msgs := b.messages(t)
	if len(msgs) != 2 || msgs[0].Method != "notifications/progress" || !strings.Contains(string(msgs[0].Params), `"tok-b"`) ||
		string(msgs[1].ID) != `"b"` {
		t.Fatalf("b's stream = %s, want its progress then its response", b)
	}

	// a's stream got nothing of b's; its token still routes to it.
	c.emitRaw(t, rpcNotification("notifications/progress", `{"progressToken":"tok-a","progress":1}`))
	_, m := a.nextMessage(t)
	if m.Method != "notifications/progress" || !strings.Contains(string(m.Params), `"tok-a"`) {
		t.Fatalf("a's stream got %s, want its own progress", m.raw)
	}
	h.up.releaseAll()
	if _, m = a.nextMessage(t); string(m.ID) != `"a"` || m.Result == nil {
		t.Fatalf("a's stream got %s, want its response", m.raw)
	}
	a.expectEnd(t)
}

// TestServerRequestRouting: a sampling request sent during the only call in
// flight goes to that call's POST stream; the client's answer reaches the
// server with the same id, byte for byte.
func TestServerRequestRouting(t *testing.T) {
	t.Parallel()
	for _, v := range []string{Version20250618, Version20251125} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			sid := h.initialize(t, v)
			c := h.up.conn(t, 0)
			get := h.openStream(t, context.Background(), req{method: http.MethodGet, sid: sid, version: v})

			call := h.openStream(t, context.Background(), req{sid: sid, version: v, body: toolCall(21, "sample")})
			_, m := call.nextMessage(t)
			if m.Method != "sampling/createMessage" || string(m.ID) != `"srv-1"` {
				t.Fatalf("call stream got %s, want the sampling request", m.raw)
			}
			answer := `{"jsonrpc":"2.0","id":"srv-1","result":{"role":"assistant","content":{"type":"text","text":"hi"},"model":"m"}}`
			rp := h.do(t, req{sid: sid, version: v, body: answer})
			wantStatus(t, rp, http.StatusAccepted)
			got := c.waitFor(t, "the client's sampling answer", func(m *pipeline.Message) bool { return m.IsResponse() })
			if string(got.Raw) != answer {
				t.Errorf("upstream got %s, want %s", got.Raw, answer)
			}
			_, m = call.nextMessage(t)
			if string(m.ID) != "21" || !strings.Contains(string(m.Result), `"sampled":{"role":"assistant"`) {
				t.Fatalf("call stream got %s, want the tool result", m.raw)
			}
			call.expectEnd(t)

			// Nothing of it went to the GET stream: the first message there
			// is the next unrelated notification.
			c.emitRaw(t, rpcNotification("notifications/tools/list_changed", ""))
			if _, m := get.nextMessage(t); m.Method != "notifications/tools/list_changed" {
				t.Errorf("GET stream got %s first", m.raw)
			}
		})
	}
}

// TestUnrelatedServerMessages: with no request in flight, server requests
// and notifications take the GET stream, which holds them until a client
// listens; with several in flight, ambiguous ones do too.
func TestUnrelatedServerMessages(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20250618)
	c := h.up.conn(t, 0)

	// Before any GET: held in the GET stream's buffer.
	c.emitRaw(t, rpcNotification("notifications/tools/list_changed", ""))
	c.emitRaw(t, rpcRequest("srv-ping", "ping", ""))
	c.emitRaw(t, rpcNotification("notifications/message", `{"level":"info","data":"idle"}`))

	get := h.openStream(t, context.Background(), req{method: http.MethodGet, sid: sid, version: Version20250618})
	opening := get.nextBlock(t)
	if !opening.commentOnly() {
		t.Errorf("GET stream opened with %+v, want a comment", opening)
	}
	for i, want := range []string{"notifications/tools/list_changed", "ping", "notifications/message"} {
		ev, m := get.nextMessage(t)
		if m.Method != want {
			t.Errorf("GET event %d = %s, want %s", i, m.raw, want)
		}
		if _, seq := splitEventID(t, ev.id); ev.id[:2] != "0_" || seq != uint64(i+1) {
			t.Errorf("GET event id %q, want 0_%d", ev.id, i+1)
		}
	}

	// One call in flight: a log message (like a server request) belongs to
	// it and takes its POST stream, which turns into SSE.
	one := h.start(t, req{sid: sid, version: Version20250618, body: toolCall("one", "wait")})
	c.waitMethod(t, "tools/call", `"one"`)
	c.emitRaw(t, rpcNotification("notifications/message", `{"level":"info","data":"working"}`))

	// Two calls in flight: a log message cannot be attributed, so it takes
	// the GET stream.
	p1 := h.start(t, req{sid: sid, version: Version20250618, body: toolCall(1, "wait")})
	p2 := h.start(t, req{sid: sid, version: Version20250618, body: toolCall(2, "wait")})
	c.waitMethod(t, "tools/call", "1")
	c.waitMethod(t, "tools/call", "2")
	c.emitRaw(t, rpcNotification("notifications/message", `{"level":"info","data":"busy"}`))
	if _, m := get.nextMessage(t); m.Method != "notifications/message" || !strings.Contains(string(m.Params), "busy") {
		t.Errorf("GET stream got %s, want the log message", m.raw)
	}
	h.up.releaseAll()
	if rp := one.wait(t); !rp.isSSE() || len(rp.messages(t)) != 2 ||
		!strings.Contains(rp.messages(t)[0].raw, "working") || string(rp.messages(t)[1].ID) != `"one"` {
		t.Errorf("the call's stream = %s, want the log message, then the response", rp)
	}
	for i, p := range []*pending{p1, p2} {
		rp := p.wait(t)
		if rp.isSSE() || rp.only(t).Result == nil {
			t.Errorf("call %d: want a plain JSON result, got %s", i+1, rp)
		}
	}
}

// TestGETTakeover: a second GET takes the stream over; the first ends.
func TestGETTakeover(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20250618)
	c := h.up.conn(t, 0)
	first := h.openStream(t, context.Background(), req{method: http.MethodGet, sid: sid, version: Version20250618})
	first.nextBlock(t)
	second := h.openStream(t, context.Background(), req{method: http.MethodGet, sid: sid, version: Version20250618})
	second.nextBlock(t)
	first.expectEnd(t)
	c.emitRaw(t, rpcNotification("notifications/tools/list_changed", ""))
	if _, m := second.nextMessage(t); m.Method != "notifications/tools/list_changed" {
		t.Errorf("got %s", m.raw)
	}
}

// TestKeepAlive: an idle stream gets comment lines.
func TestKeepAlive(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *setup) { s.cfg.KeepAlive = 20e6 }) // 20ms
	sid := h.initialize(t, Version20250618)
	get := h.openStream(t, context.Background(), req{method: http.MethodGet, sid: sid, version: Version20250618})
	if ev := get.nextBlock(t); !ev.commentOnly() {
		t.Fatalf("want the opening comment, got %+v", ev)
	}
	ev := get.nextBlock(t)
	if !ev.commentOnly() || len(ev.comments) != 1 || ev.comments[0] != "keepalive" {
		t.Errorf("want a keep-alive comment, got %+v", ev)
	}
}
