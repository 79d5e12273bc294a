package front

// Tests of the 2024-11-05 HTTP+SSE transport (sse2024.go), with the fake
// upstream of harness_test.go.

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// TestSSE2024RoundTrip: the endpoint event comes first; initialize and calls
// are POSTed, answered 202, and their responses arrive on the stream in
// order as message events; the session lives in the store as a legacy
// session and its upstream listens while the stream is open.
func TestSSE2024RoundTrip(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *setup) { s.up.syncSend = true }) // responses come before the 202
	lc := h.openSSE2024(t, req{})
	sess := h.session(t, lc.sid)
	if !sess.sse2024 || sess.Version() != Version20241105 {
		t.Errorf("session legacy=%v version=%q, want a legacy session at %s", sess.sse2024, sess.Version(), Version20241105)
	}
	c := h.up.conn(t, 0) // opened by the GET
	c.waitListening(t, 1)

	lc.send(t, initBody(Version20241105))
	ev, m := lc.next(t)
	if string(m.ID) != "0" || !strings.Contains(string(m.Result), `"protocolVersion":"2024-11-05"`) {
		t.Fatalf("initialize response: %s", m.raw)
	}
	if ev.id != "0_1" {
		t.Errorf("event id %q, want 0_1", ev.id)
	}
	if init := c.waitMethod(t, "initialize", "0"); string(init.Raw) != initBody(Version20241105) {
		t.Errorf("initialize reached the upstream as %s", init.Raw)
	}
	lc.send(t, rpcNotification("notifications/initialized", ""))
	c.waitMethod(t, "notifications/initialized", "")

	lc.send(t, toolCall(1, "echo"))
	lc.send(t, rpcRequest("two", "ping", ""))
	lc.send(t, toolCall(3, "echo"))
	for i, id := range []string{"1", `"two"`, "3"} {
		ev, m := lc.next(t)
		if string(m.ID) != id || m.Error != nil {
			t.Fatalf("response #%d: got %s, want the result for %s", i, m.raw, id)
		}
		if want := fmt.Sprintf("0_%d", i+2); ev.id != want {
			t.Errorf("event id %q, want %s", ev.id, want)
		}
	}
	if n := h.store.Len(); n != 1 {
		t.Errorf("the store holds %d sessions, want 1: a legacy POST must not create one", n)
	}

	lc.close()
	c.waitClosed(t)
	c.waitListening(t, 0)
}

// TestSSE2024ServerMessages: server requests (sampling), progress, log and
// list-changed notifications all take the one stream; the client's POSTed
// answer to a server request reaches the server.
func TestSSE2024ServerMessages(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	lc := h.openSSE2024(t, req{})
	lc.initialize(t, Version20250618)
	c := h.up.conn(t, 0)

	c.emitRaw(t, rpcNotification("notifications/tools/list_changed", ""))
	if _, m := lc.next(t); m.Method != "notifications/tools/list_changed" {
		t.Fatalf("got %s, want the list_changed notification", m.raw)
	}

	// Sampling: the server's request comes on the stream, the client POSTs
	// its answer, the tool's result follows.
	lc.send(t, toolCall(5, "sample"))
	_, sreq := lc.next(t)
	if sreq.Method != "sampling/createMessage" || string(sreq.ID) != `"srv-1"` {
		t.Fatalf("got %s, want the sampling request", sreq.raw)
	}
	answer := `{"jsonrpc":"2.0","id":"srv-1","result":{"role":"assistant","content":{"type":"text","text":"hi"},"model":"m"}}`
	lc.send(t, answer)
	if got := c.waitFor(t, "the sampling answer", func(m *pipeline.Message) bool {
		return m.IsResponse() && string(m.ID) == `"srv-1"`
	}); string(got.Raw) != answer {
		t.Errorf("the server got the answer as %s", got.Raw)
	}
	if m := lc.nextResponse(t, "5"); !strings.Contains(string(m.Result), `"text":"hi"`) {
		t.Errorf("tool result %s lacks the sampled text", m.raw)
	}

	// Progress for the request that holds the token, then its result.
	lc.send(t, rpcRequest(6, "tools/call", `{"name":"progress","arguments":{},"_meta":{"progressToken":"tok-6"}}`))
	if _, m := lc.next(t); m.Method != "notifications/progress" || !strings.Contains(string(m.Params), `"tok-6"`) {
		t.Fatalf("got %s, want progress for tok-6", m.raw)
	}
	lc.nextResponse(t, "6")

	// A message the upstream relates to a request in flight (as the HTTP
	// upstream does) takes the same stream.
	lc.send(t, toolCall(7, "wait"))
	c.waitMethod(t, "tools/call", "7")
	c.emitRelated(t, rpcNotification("notifications/message", `{"level":"info","data":"working"}`), "7")
	if _, m := lc.next(t); m.Method != "notifications/message" {
		t.Fatalf("got %s, want the log message", m.raw)
	}
	h.up.releaseAll()
	lc.nextResponse(t, "7")

	// A cancelled request ends without a response.
	lc.send(t, toolCall(8, "hang"))
	c.waitMethod(t, "tools/call", "8")
	lc.send(t, rpcNotification("notifications/cancelled", `{"requestId":8,"reason":"user"}`))
	c.waitMethod(t, "notifications/cancelled", "")
	lc.send(t, rpcRequest(9, "ping", ""))
	lc.nextResponse(t, "9") // and nothing for 8 before it
}

// TestSSE2024CloseEndsSession: closing the GET stream ends the session: the
// upstream connection closes (work in flight with it), the id is
// forgotten, and a later POST is 404.
func TestSSE2024CloseEndsSession(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	lc := h.openSSE2024(t, req{})
	lc.initialize(t, Version20241105)
	c := h.up.conn(t, 0)
	lc.send(t, toolCall(1, "hang"))
	c.waitMethod(t, "tools/call", "1")

	lc.close()
	c.waitClosed(t)
	if h.store.get(lc.sid) != nil {
		t.Error("the session is still in the store")
	}
	wantError(t, lc.post(t, toolCall(2, "echo")), http.StatusNotFound, codeSessionNotFound, "open a new SSE stream")
	if n := h.up.opened(); n != 1 {
		t.Errorf("%d upstream connections, want 1", n)
	}
}

// TestSSE2024UpstreamEnds: a server that dies answers the request in flight
// with an error on the stream, then the stream ends; the id is 404.
func TestSSE2024UpstreamEnds(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	lc := h.openSSE2024(t, req{})
	lc.initialize(t, Version20241105)
	c := h.up.conn(t, 0)
	lc.send(t, toolCall(1, "hang"))
	c.waitMethod(t, "tools/call", "1")
	c.crash(errors.New("fault injection: process exited"))
	if m := lc.nextResponse(t, "1"); m.Error == nil || m.Error.Code != pipeline.CodeConnectionClosed {
		t.Errorf("got %s, want error %d", m.raw, pipeline.CodeConnectionClosed)
	}
	lc.stream.expectEnd(t)
	wantError(t, lc.post(t, toolCall(2, "echo")), http.StatusNotFound, codeSessionNotFound, "Session not found")
}

// TestSSE2024ShutdownKeepsStream: a legacy stream cannot resume elsewhere,
// so unloading the configuration leaves it with the old handler, working.
func TestSSE2024ShutdownKeepsStream(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	lc := h.openSSE2024(t, req{})
	lc.initialize(t, Version20241105)
	h.server.Shutdown()
	h.up.conn(t, 0).emitRaw(t, rpcNotification("notifications/tools/list_changed", ""))
	if ev, m := lc.next(t); m.Method != "notifications/tools/list_changed" || ev.retry != "" {
		t.Fatalf("after Shutdown got %+v, want the notification", ev)
	}
	lc.send(t, toolCall(1, "echo"))
	lc.nextResponse(t, "1")
}

// TestSSE2024NotIdle: an open legacy stream keeps its session from the idle
// reaper (about 2s: the reaper ticks once a second).
func TestSSE2024NotIdle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *setup) { s.idle = time.Second })
	lc := h.openSSE2024(t, req{})
	h.initialize(t, Version20250618) // idle, reaped
	h.up.conn(t, 1).waitClosed(t)
	if h.up.conn(t, 0).isClosed() {
		t.Fatal("the reaper ended a legacy session with an open stream")
	}
	lc.initialize(t, Version20241105)
}

// TestSSE2024BadInput: every refused legacy POST gets the answer a 2025 POST
// gets for the same fault (or a clear one of its own), reaches nothing
// upstream, and leaves the session working. Requests of the other transport
// that name a legacy session are refused (400), and so is the reverse.
func TestSSE2024BadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		mods     func(*setup)
		with2025 bool // other is the id of a live 2025 session
		// req builds the request; target "" means the legacy endpoint.
		req    func(lc *sse2024Client, other string) (target string, r req)
		status int
		code   int
		substr string
		wantID string // the error's id, "" for null
	}{
		{
			name:   "malformed JSON",
			req:    func(*sse2024Client, string) (string, req) { return "", req{body: `{"jsonrpc":"2.0","id":1,`} },
			status: http.StatusBadRequest, code: pipeline.CodeParseError, substr: "parse error",
		},
		{
			name:   "JSON that is not JSON-RPC",
			req:    func(*sse2024Client, string) (string, req) { return "", req{body: `{"hello":"world"}`} },
			status: http.StatusBadRequest, code: pipeline.CodeInvalidRequest, substr: "jsonrpc",
		},
		{
			name:   "a JSON number",
			req:    func(*sse2024Client, string) (string, req) { return "", req{body: `42`} },
			status: http.StatusBadRequest, code: pipeline.CodeInvalidRequest, substr: "must be a JSON object",
		},
		{
			name:   "empty body",
			req:    func(*sse2024Client, string) (string, req) { return "", req{body: ` `} },
			status: http.StatusBadRequest, code: pipeline.CodeParseError, substr: "empty",
		},
		{
			name: "oversized body",
			mods: func(s *setup) { s.cfg.MaxMessageSize = 64 },
			req: func(*sse2024Client, string) (string, req) {
				return "", req{body: rpcRequest(1, "tools/call", `{"name":"echo","arguments":{"pad":"`+strings.Repeat("x", 200)+`"}}`)}
			},
			status: http.StatusRequestEntityTooLarge, code: pipeline.CodeInvalidRequest, substr: "max_message_size (64 bytes)",
		},
		{
			name: "wrong Content-Type",
			req: func(*sse2024Client, string) (string, req) {
				return "", req{contentType: "text/plain", body: toolCall(1, "echo")}
			},
			status: http.StatusUnsupportedMediaType, code: pipeline.CodeInvalidRequest, substr: "application/json",
		},
		{
			name: "unsupported MCP-Protocol-Version",
			req: func(*sse2024Client, string) (string, req) {
				return "", req{version: "1999-01-01", body: toolCall(1, "echo")}
			},
			status: http.StatusBadRequest, code: codeUnsupportedProtocolVersion, substr: `"1999-01-01"`,
			wantID: "1",
		},
		{
			name: "a batch at 2025-06-18",
			req: func(*sse2024Client, string) (string, req) {
				return "", req{version: Version20250618, body: "[" + toolCall(1, "echo") + "," + toolCall(2, "echo") + "]"}
			},
			status: http.StatusBadRequest, code: pipeline.CodeInvalidRequest, substr: "batches",
		},
		{
			name: "initialize in a batch",
			req: func(*sse2024Client, string) (string, req) {
				return "", req{body: "[" + initBody(Version20241105) + "]"}
			},
			status: http.StatusBadRequest, code: pipeline.CodeInvalidRequest, substr: "initialize must not be part of a batch",
			wantID: "0",
		},
		{
			name: "initialize as a notification",
			req: func(*sse2024Client, string) (string, req) {
				return "", req{body: rpcNotification("initialize", `{"protocolVersion":"2024-11-05"}`)}
			},
			status: http.StatusBadRequest, code: pipeline.CodeInvalidRequest, substr: "must be a request with an id",
		},
		{
			name: "unknown sessionId",
			req: func(*sse2024Client, string) (string, req) {
				return sse2024Path + "?sessionId=0123456789abcdef0123456789abcdef", req{body: toolCall(1, "echo")}
			},
			status: http.StatusNotFound, code: codeSessionNotFound, substr: "open a new SSE stream with a GET",
		},
		{
			name: "empty sessionId",
			req: func(*sse2024Client, string) (string, req) {
				return sse2024Path + "?sessionId=", req{body: toolCall(1, "echo")}
			},
			status: http.StatusBadRequest, code: pipeline.CodeInvalidRequest, substr: "sessionId query parameter is empty",
			wantID: "1",
		},
		{
			name: "foreign Origin",
			req: func(*sse2024Client, string) (string, req) {
				return "", req{origin: "http://evil.example.com", body: toolCall(1, "echo")}
			},
			status: http.StatusForbidden, code: pipeline.CodeInvalidRequest, substr: `Origin "http://evil.example.com" is not allowed`,
		},
		{
			name: "non-loopback Host",
			req: func(*sse2024Client, string) (string, req) {
				return "", req{host: "evil.example.com", body: toolCall(1, "echo")}
			},
			status: http.StatusForbidden, code: pipeline.CodeInvalidRequest, substr: `Host "evil.example.com" is not allowed`,
		},
		{
			name:   "another user",
			req:    func(*sse2024Client, string) (string, req) { return "", req{user: "mallory", body: toolCall(1, "echo")} },
			status: http.StatusForbidden, code: pipeline.CodeInvalidRequest, substr: "another user",
		},
		{
			name: "2025 POST with the Mcp-Session-Id of a legacy session",
			req: func(lc *sse2024Client, _ string) (string, req) {
				return "/", req{sid: lc.sid, version: Version20250618, accept: "application/json, text/event-stream", body: toolCall(1, "echo")}
			},
			status: http.StatusBadRequest, code: pipeline.CodeInvalidRequest, substr: "uses the 2024-11-05 HTTP+SSE transport",
		},
		{
			name: "Mcp-Session-Id beside ?sessionId= is a 2025 POST",
			req: func(lc *sse2024Client, _ string) (string, req) {
				return "", req{sid: lc.sid, accept: "application/json, text/event-stream", body: toolCall(1, "echo")}
			},
			status: http.StatusBadRequest, code: pipeline.CodeInvalidRequest, substr: "uses the 2024-11-05 HTTP+SSE transport",
		},
		{
			name: "2025 GET with the Mcp-Session-Id of a legacy session",
			req: func(lc *sse2024Client, _ string) (string, req) {
				return "/", req{method: http.MethodGet, sid: lc.sid, version: Version20250618}
			},
			status: http.StatusBadRequest, code: pipeline.CodeInvalidRequest, substr: "uses the 2024-11-05 HTTP+SSE transport",
		},
		{
			name: "DELETE with the Mcp-Session-Id of a legacy session",
			req: func(lc *sse2024Client, _ string) (string, req) {
				return "/", req{method: http.MethodDelete, sid: lc.sid, version: Version20250618}
			},
			status: http.StatusBadRequest, code: pipeline.CodeInvalidRequest, substr: "close the SSE stream to end it",
		},
		{
			name:     "?sessionId= of a 2025 session",
			with2025: true,
			req: func(_ *sse2024Client, other string) (string, req) {
				return sse2024Path + "?sessionId=" + other, req{body: toolCall(1, "echo")}
			},
			status: http.StatusBadRequest, code: pipeline.CodeInvalidRequest, substr: "uses Streamable HTTP",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mods := []func(*setup){testUser}
			if tc.mods != nil {
				mods = append(mods, tc.mods)
			}
			h := newHarness(t, mods...)
			lc := h.openSSE2024(t, req{user: "alice"})
			other := ""
			if tc.with2025 {
				rp := h.do(t, req{user: lc.user, body: initBody(Version20250618)})
				wantStatus(t, rp, http.StatusOK)
				other = rp.header.Get("Mcp-Session-Id")
			}
			target, r := tc.req(lc, other)
			if target == "" {
				target = lc.endpoint
			}
			if r.accept == "" && r.method == "" {
				r.accept = "application/json" // a legacy POST
			}
			if r.user == "" {
				r.user = lc.user
			}
			opened := h.up.opened()
			rp := h.doAt(t, target, r)
			m := wantError(t, rp, tc.status, tc.code, tc.substr)
			wantID := tc.wantID
			if wantID == "" {
				wantID = "null"
			}
			if string(m.ID) != wantID {
				t.Errorf("error id = %s, want %s", m.ID, wantID)
			}
			if ct := rp.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if got := h.up.opened(); got != opened {
				t.Errorf("a refused request opened an upstream connection (%d -> %d)", opened, got)
			}
			c := h.up.conn(t, 0)
			if got := c.receivedSummary(); got != "[]" {
				t.Errorf("the refused request reached the upstream: %s", got)
			}
			// The legacy session still works, on its stream.
			lc.send(t, rpcRequest(2, "ping", ""))
			lc.nextResponse(t, "2")
		})
	}
}
