package front

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

var (
	sessionIDPattern = regexp.MustCompile(`^[\x21-\x7e]{32}$`)
	eventIDPattern   = regexp.MustCompile(`^(\d+)_(\d+)$`)
)

// splitEventID checks the <stream>_<seq> form and returns its parts.
func splitEventID(t testing.TB, id string) (stream, seq uint64) {
	t.Helper()
	m := eventIDPattern.FindStringSubmatch(id)
	if m == nil {
		t.Fatalf("event id %q is not of the form <stream>_<seq>", id)
	}
	stream, _ = strconv.ParseUint(m[1], 10, 64)
	seq, _ = strconv.ParseUint(m[2], 10, 64)
	return stream, seq
}

// TestInitializeSessionID: initialize mints a fresh session id (visible
// ASCII, 128 bits as 32 hex chars) on its response, and only there.
func TestInitializeSessionID(t *testing.T) {
	t.Parallel()
	for _, v := range []string{Version20250326, Version20250618, Version20251125} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			rp := h.do(t, req{body: initBody(v)})
			wantStatus(t, rp, http.StatusOK)
			sid := rp.header.Get("Mcp-Session-Id")
			if !sessionIDPattern.MatchString(sid) {
				t.Fatalf("Mcp-Session-Id %q is not 32 visible ASCII characters", sid)
			}
			m := rp.only(t)
			if string(m.ID) != "0" || !strings.Contains(string(m.Result), `"protocolVersion":"`+v+`"`) {
				t.Errorf("initialize result = %s", m.raw)
			}
			c := h.up.conn(t, 0)
			if got := c.waitMethod(t, "initialize", "0"); string(got.Raw) != initBody(v) {
				t.Errorf("the upstream got %s, want the client's bytes %s", got.Raw, initBody(v))
			}

			for _, r := range []req{
				{sid: sid, version: v, body: rpcNotification("notifications/initialized", "")},
				{sid: sid, version: v, body: toolCall(1, "echo")},
				{method: http.MethodDelete, sid: sid, version: v},
			} {
				rp := h.do(t, r)
				if got := rp.header.Get("Mcp-Session-Id"); got != "" {
					t.Errorf("%s %s answered with Mcp-Session-Id %q; only the initialize response carries it", r.method, r.body, got)
				}
			}

			other := h.do(t, req{body: initBody(v)})
			if sid2 := other.header.Get("Mcp-Session-Id"); sid2 == "" || sid2 == sid {
				t.Errorf("second session id %q, first %q: want a new one", sid2, sid)
			}
		})
	}
}

// TestAcceptedMessages: notifications and client responses are 202 with an
// empty body, and reach the server byte for byte.
func TestAcceptedMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		version string
		body    string
		method  string // what the upstream receives
	}{
		{"notification", Version20250618, rpcNotification("notifications/roots/list_changed", ""), "notifications/roots/list_changed"},
		{"notification with params", Version20251125, rpcNotification("notifications/progress", `{"progressToken":"x","progress":1}`), "notifications/progress"},
		{"client response", Version20250618, `{"jsonrpc":"2.0","id":"srv-77","result":{}}`, ""},
		{"client error response", Version20251125, `{"jsonrpc":"2.0","id":5,"error":{"code":-1,"message":"no"}}`, ""},
		{"batch of notifications", Version20250326, "[" + rpcNotification("notifications/a", "") + "," + rpcNotification("notifications/b", "") + "]", "notifications/b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			sid := h.initialize(t, tc.version)
			rp := h.do(t, req{sid: sid, version: tc.version, body: tc.body})
			wantStatus(t, rp, http.StatusAccepted)
			if len(rp.body) != 0 {
				t.Errorf("202 body = %q, want empty", rp.body)
			}
			c := h.up.conn(t, 0)
			if tc.method != "" {
				c.waitMethod(t, tc.method, "")
			} else {
				want := tc.body
				c.waitFor(t, tc.body, func(m *pipeline.Message) bool { return string(m.Raw) == want })
			}
		})
	}
}

// TestJSONResponse: before 2025-11-25 a lone response is plain JSON,
// forwarded byte for byte.
func TestJSONResponse(t *testing.T) {
	t.Parallel()
	for _, v := range []string{Version20250326, Version20250618} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			sid := h.initialize(t, v)
			rp := h.do(t, req{sid: sid, version: v, body: toolCall("call-1", "echo")})
			wantStatus(t, rp, http.StatusOK)
			if ct := rp.header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type = %q, want application/json", ct)
			}
			want := `{"jsonrpc":"2.0","id":"call-1","result":{"tool":"echo","echo":{"n":1}}}`
			if string(rp.body) != want {
				t.Errorf("body = %s, want %s", rp.body, want)
			}
			if cl := rp.header.Get("Content-Length"); cl != strconv.Itoa(len(want)) {
				t.Errorf("Content-Length = %q, want %d", cl, len(want))
			}
		})
	}
}

// TestPrimedStream: a 2025-11-25 request gets an event stream that starts
// with a priming event (an id, empty data); ids name the stream.
func TestPrimedStream(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20251125)
	rp := h.do(t, req{sid: sid, version: Version20251125, body: toolCall(3, "echo")})
	wantStatus(t, rp, http.StatusOK)
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := rp.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if len(rp.events) != 2 {
		t.Fatalf("want a priming event and the response, got %+v", rp.events)
	}
	prime, resp := rp.events[0], rp.events[1]
	if !prime.hasID || !prime.hasData || prime.data != "" || prime.event != "" {
		t.Errorf("priming event = %+v, want an id and empty data", prime)
	}
	ps, pseq := splitEventID(t, prime.id)
	rs, rseq := splitEventID(t, resp.id)
	if pseq != 0 || rs != ps || rseq != 1 {
		t.Errorf("ids %q then %q: want <s>_0 then <s>_1", prime.id, resp.id)
	}
	if ps == getStreamIndex {
		t.Errorf("a POST stream uses the GET stream's index %d", ps)
	}
	if resp.event != "message" {
		t.Errorf("event name = %q, want message", resp.event)
	}
	if m := decodeMsg(t, []byte(resp.data)); string(m.ID) != "3" || m.Result == nil {
		t.Errorf("response = %s", m.raw)
	}
	// A call that finishes within primeHold is sent whole, with its length.
	if cl := rp.header.Get("Content-Length"); cl == "" {
		t.Errorf("a quick answer came chunked; want it whole with a Content-Length")
	}

	// Each POST gets its own stream.
	rp2 := h.do(t, req{sid: sid, version: Version20251125, body: toolCall(4, "echo")})
	s2, _ := splitEventID(t, rp2.events[0].id)
	if s2 == ps {
		t.Errorf("two POSTs share stream %d", ps)
	}
}

// TestProgressThenResponse: a request whose server reports progress first
// gets SSE (even at 2025-06-18) with the progress, then the response.
func TestProgressThenResponse(t *testing.T) {
	t.Parallel()
	for _, v := range []string{Version20250618, Version20251125} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			sid := h.initialize(t, v)
			rp := h.do(t, req{sid: sid, version: v, body: rpcRequest(5, "tools/call",
				`{"name":"progress","_meta":{"progressToken":"tok-5"}}`)})
			wantStatus(t, rp, http.StatusOK)
			if !rp.isSSE() {
				t.Fatalf("want SSE, got %s", rp)
			}
			msgs := rp.messages(t)
			if len(msgs) != 2 {
				t.Fatalf("want progress and response, got %s", rp)
			}
			if msgs[0].Method != "notifications/progress" || !strings.Contains(string(msgs[0].Params), `"progressToken":"tok-5"`) {
				t.Errorf("first message = %s, want the progress for tok-5", msgs[0].raw)
			}
			if string(msgs[1].ID) != "5" || msgs[1].Result == nil {
				t.Errorf("second message = %s, want the response to 5", msgs[1].raw)
			}
			var last uint64
			for _, ev := range rp.events {
				if !ev.hasID {
					t.Errorf("event without id: %+v", ev)
					continue
				}
				_, seq := splitEventID(t, ev.id)
				if seq < last {
					t.Errorf("ids go backwards: %+v", rp.events)
				}
				last = seq
			}
		})
	}
}

// TestDelete: DELETE ends the session and its upstream; the id is then
// unknown to every method.
func TestDelete(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20250618)
	rp := h.do(t, req{method: http.MethodDelete, sid: sid, version: Version20250618})
	wantStatus(t, rp, http.StatusNoContent)
	h.up.conn(t, 0).waitClosed(t)
	if n := h.store.Len(); n != 0 {
		t.Errorf("store holds %d sessions after DELETE", n)
	}
	for _, r := range []req{
		{sid: sid, version: Version20250618, body: toolCall(1, "echo")},
		{sid: sid, version: Version20250618, body: rpcNotification("notifications/initialized", "")},
		{method: http.MethodGet, sid: sid, version: Version20250618},
		{method: http.MethodGet, sid: sid, version: Version20250618, lastEventID: "1_1"},
		{method: http.MethodDelete, sid: sid, version: Version20250618},
	} {
		wantError(t, h.do(t, r), http.StatusNotFound, codeSessionNotFound, "Session not found")
	}
}

// TestDeleteEndsInFlight: a request in flight when its session is deleted
// is answered with an error, not left hanging.
func TestDeleteEndsInFlight(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20251125)
	st := h.openStream(t, context.Background(), req{sid: sid, version: Version20251125, body: toolCall(1, "hang")})
	st.next(t) // priming
	h.up.conn(t, 0).waitMethod(t, "tools/call", "1")
	wantStatus(t, h.do(t, req{method: http.MethodDelete, sid: sid, version: Version20251125}), http.StatusNoContent)
	_, m := st.nextMessage(t)
	if m.Error == nil || m.Error.Code != pipeline.CodeConnectionClosed || string(m.ID) != "1" {
		t.Errorf("in-flight request got %s, want error %d for id 1", m.raw, pipeline.CodeConnectionClosed)
	}
	st.expectEnd(t)
}

// TestBatch20250326: a 2025-03-26 session takes batches; each request's
// response arrives (as SSE when there are several, as one JSON object when
// there is one).
func TestBatch20250326(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20250326)
	c := h.up.conn(t, 0)

	// Two requests: the server answers once it has both, so the answers
	// cannot race the gateway's registration of the batch.
	p := h.start(t, req{sid: sid, body: "[" + toolCall(1, "wait") + "," + rpcNotification("notifications/x", "") + "," + toolCall(2, "wait") + "]"})
	c.waitMethod(t, "tools/call", "1")
	c.waitMethod(t, "notifications/x", "")
	c.waitMethod(t, "tools/call", "2")
	h.up.releaseAll()
	rp := p.wait(t)
	wantStatus(t, rp, http.StatusOK)
	if !rp.isSSE() {
		t.Fatalf("want SSE for two responses, got %s", rp)
	}
	ids := map[string]bool{}
	for _, m := range rp.messages(t) {
		if m.Result == nil {
			t.Errorf("unexpected message %s", m.raw)
		}
		ids[string(m.ID)] = true
	}
	if !ids["1"] || !ids["2"] || len(ids) != 2 {
		t.Errorf("responses for %v, want 1 and 2", ids)
	}

	// One request and a notification: the single response as JSON.
	rp = h.do(t, req{sid: sid, body: "[" + rpcNotification("notifications/y", "") + "," + toolCall(3, "echo") + "]"})
	wantStatus(t, rp, http.StatusOK)
	if m := rp.only(t); string(m.ID) != "3" || m.Result == nil {
		t.Errorf("response = %s", m.raw)
	}

	// The same batch with an explicit 2025-03-26 header.
	rp = h.do(t, req{sid: sid, version: Version20250326, body: "[" + toolCall(4, "echo") + "]"})
	wantStatus(t, rp, http.StatusOK)
	if m := rp.only(t); string(m.ID) != "4" {
		t.Errorf("response = %s", m.raw)
	}
}

// TestBatchRefusedElement: in a batch, a request that cannot start (here a
// duplicate id) gets its own error while the others run.
func TestBatchRefusedElement(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20250326)
	c := h.up.conn(t, 0)
	// The third element reaching the server shows the second was judged
	// (a batch's elements start in order) while the first was still in
	// flight: released earlier, the first could end before the second
	// starts, which then is no duplicate.
	p := h.start(t, req{sid: sid, body: "[" + toolCall(1, "wait") + "," + toolCall(1, "wait") + "," + toolCall(2, "echo") + "]"})
	c.waitMethod(t, "tools/call", "1")
	c.waitMethod(t, "tools/call", "2")
	h.up.releaseAll()
	rp := p.wait(t)
	wantStatus(t, rp, http.StatusOK)
	var gotErr, gotResult, gotOther bool
	for _, m := range rp.messages(t) {
		switch {
		case string(m.ID) == "2" && m.Result != nil:
			gotOther = true
		case string(m.ID) != "1":
			t.Errorf("unexpected message %s", m.raw)
		case m.Error != nil:
			gotErr = m.Error.Code == pipeline.CodeInvalidRequest && strings.Contains(m.Error.Message, "already in flight")
		case m.Result != nil:
			gotResult = true
		}
	}
	if !gotErr || !gotResult || !gotOther {
		t.Errorf("want one result and one duplicate-id error for id 1 and a result for id 2, got %s", rp)
	}
}

// TestBatchFastServer: a server that answers the first request of a batch
// before the gateway has registered the second must not make the second's
// response vanish.
func TestBatchFastServer(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *setup) { s.up.syncSend = true }) // Send returns after the answer was delivered
	sid := h.initialize(t, Version20250326)
	rp := h.do(t, req{sid: sid, body: "[" + toolCall(1, "echo") + "," + toolCall(2, "echo") + "]"})
	wantStatus(t, rp, http.StatusOK)
	ids := map[string]bool{}
	for _, m := range rp.messages(t) {
		ids[string(m.ID)] = true
	}
	if !ids["1"] || !ids["2"] {
		t.Fatalf("responses for %v, want 1 and 2: %s", ids, rp)
	}
}

// TestNegotiatedVersion: the session follows the version the server
// answered to initialize, not the one the client proposed: a client that
// proposed 2025-06-18 and was offered 2025-03-26 speaks 2025-03-26 (no
// header, batches allowed).
func TestNegotiatedVersion(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *setup) { s.up.version = Version20250326 })
	rp := h.do(t, req{body: initBody(Version20250618)})
	wantStatus(t, rp, http.StatusOK)
	sid := rp.header.Get("Mcp-Session-Id")
	var res struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	_ = json.Unmarshal(rp.only(t).Result, &res)
	if res.ProtocolVersion != Version20250326 {
		t.Fatalf("negotiated %q", res.ProtocolVersion)
	}
	if got := h.session(t, sid).Version(); got != Version20250326 {
		t.Errorf("session version = %q, want the negotiated %q", got, Version20250326)
	}
	rp = h.do(t, req{sid: sid, body: "[" + toolCall(1, "echo") + "]"})
	wantStatus(t, rp, http.StatusOK)
}

// TestFailedInitializeEndsSession: when the server refuses initialize, the
// session is useless; it must not hold a slot and an upstream until the
// idle timeout.
func TestFailedInitializeEndsSession(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *setup) {
		s.up.script = func(c *fakeConn, m *pipeline.Message) bool {
			if m.Method != "initialize" {
				return false
			}
			c.emit(pipeline.NewError(m.ID, pipeline.CodeInvalidParams, "unsupported protocol version"))
			return true
		}
	})
	rp := h.do(t, req{body: initBody(Version20250618)})
	wantStatus(t, rp, http.StatusOK)
	if m := rp.only(t); m.Error == nil {
		t.Fatalf("want the server's error, got %s", m.raw)
	}
	h.up.conn(t, 0).waitClosed(t)
	if n := h.store.Len(); n != 0 {
		t.Errorf("store holds %d sessions after a failed initialize", n)
	}
}

// TestPrimedStreamHeld: a 2025-11-25 call still running after primeHold gets
// the headers and the priming event on their own, before the response, so
// the client holds an event id to resume with; the response follows on the
// same stream, which is then chunked rather than sent with a length.
func TestPrimedStreamHeld(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20251125)
	c := h.up.conn(t, 0)
	st := h.openStream(t, context.Background(), req{sid: sid, version: Version20251125, body: toolCall(12, "wait")})
	c.waitMethod(t, "tools/call", "12")
	prime := st.next(t) // arrives while the server still holds the call
	if _, seq := splitEventID(t, prime.id); seq != 0 || prime.data != "" {
		t.Fatalf("first event = %+v, want the priming event", prime)
	}
	if cl := st.resp.Header.Get("Content-Length"); cl != "" {
		t.Errorf("Content-Length = %q on a stream whose end was unknown", cl)
	}
	h.up.releaseAll()
	ev := st.next(t)
	if m := decodeMsg(t, []byte(ev.data)); string(m.ID) != "12" || m.Result == nil {
		t.Errorf("response = %s", m.raw)
	}
}

// TestPrimedStreamStartsOnMessage: a message before the response (progress
// here) ends primeHold at once: the stream starts with the priming event and
// carries the message while the server still holds the call.
func TestPrimedStreamStartsOnMessage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20251125)
	c := h.up.conn(t, 0)
	// The headers come with the priming event, once the progress is there:
	// the upstream side sends it while openStream waits for them.
	emitted := make(chan struct{})
	go func() {
		defer close(emitted)
		c.waitMethod(t, "tools/call", "13")
		c.emitRelated(t, `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p","progress":1}}`, "13")
	}()
	st := h.openStream(t, context.Background(), req{sid: sid, version: Version20251125, body: toolCall(13, "wait")})
	<-emitted
	prime := st.next(t)
	if _, seq := splitEventID(t, prime.id); seq != 0 || prime.data != "" {
		t.Fatalf("first event = %+v, want the priming event", prime)
	}
	if m := decodeMsg(t, []byte(st.next(t).data)); m.Method != "notifications/progress" {
		t.Fatalf("second event = %s, want the progress notification", m.raw)
	}
	h.up.releaseAll()
	if m := decodeMsg(t, []byte(st.next(t).data)); string(m.ID) != "13" || m.Result == nil {
		t.Errorf("response = %s", m.raw)
	}
}
