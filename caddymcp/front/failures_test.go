package front

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// TestUpstreamCrash: when the server side ends mid-request, the request in
// flight is answered with -32000 and its stream ends; the session is gone,
// so the next request is 404 and the client initializes again.
func TestUpstreamCrash(t *testing.T) {
	t.Parallel()
	t.Run("2025-11-25 stream", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		sid := h.initialize(t, Version20251125)
		c := h.up.conn(t, 0)
		st := h.openStream(t, context.Background(), req{sid: sid, version: Version20251125, body: toolCall(31, "hang")})
		st.next(t) // priming
		c.waitMethod(t, "tools/call", "31")
		c.crash(errors.New("fault injection: process exited with status 1"))
		_, m := st.nextMessage(t)
		if m.Error == nil || m.Error.Code != pipeline.CodeConnectionClosed || string(m.ID) != "31" {
			t.Fatalf("got %s, want error %d for id 31", m.raw, pipeline.CodeConnectionClosed)
		}
		if !strings.Contains(m.Error.Message, "the upstream MCP server ended") || strings.Contains(m.raw, "status 1") {
			t.Errorf("error message %q does not say what happened, or gives the detail away", m.Error.Message)
		}
		st.expectEnd(t)
		wantError(t, h.do(t, req{sid: sid, version: Version20251125, body: toolCall(32, "echo")}),
			http.StatusNotFound, codeSessionNotFound, "Session not found")
		// A new session works.
		h.initialize(t, Version20251125)
	})
	t.Run("2025-06-18 JSON", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		sid := h.initialize(t, Version20250618)
		rp := h.do(t, req{sid: sid, version: Version20250618, body: toolCall(33, "crash")})
		wantError(t, rp, http.StatusOK, pipeline.CodeConnectionClosed, "the upstream MCP server ended")
		wantError(t, h.do(t, req{method: http.MethodGet, sid: sid, version: Version20250618}),
			http.StatusNotFound, codeSessionNotFound, "Session not found")
	})
	t.Run("open GET stream ends", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		sid := h.initialize(t, Version20250618)
		get := h.openStream(t, context.Background(), req{method: http.MethodGet, sid: sid, version: Version20250618})
		get.nextBlock(t)
		h.up.conn(t, 0).crash(errors.New("fault injection: EOF"))
		get.expectEnd(t)
	})
}

// TestUpstreamClosedNil: a Receiver.Closed(nil) (a clean end with no error
// to report) must end the session like any other end, not panic.
func TestUpstreamClosedNil(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20250618)
	h.up.conn(t, 0).crash(nil)
	wantError(t, h.do(t, req{sid: sid, version: Version20250618, body: toolCall(1, "echo")}),
		http.StatusNotFound, codeSessionNotFound, "Session not found")
}

// TestOpenErrors: an upstream that cannot be opened is 502 with the cause;
// one at capacity is 503 with Retry-After. No session is left behind.
func TestOpenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		status     int
		code       int
		substr     string
		retryAfter string
	}{
		{"start failure", errors.New("fork/exec /no/such/server: no such file or directory"),
			http.StatusBadGateway, pipeline.CodeInternalError, "could not be started; the gateway's log has the cause", ""},
		{"busy", &upstream.BusyError{RetryAfter: 3 * time.Second, Err: errors.New("pool: all 4 processes in use")},
			http.StatusServiceUnavailable, pipeline.CodeInternalError, "retry later", "3"},
		{"busy, sub-second hint", &upstream.BusyError{RetryAfter: 200 * time.Millisecond, Err: errors.New("pool full")},
			http.StatusServiceUnavailable, pipeline.CodeInternalError, "retry later", "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(s *setup) { s.up.openErr = tc.err })
			rp := h.do(t, req{body: initBody(Version20250618)})
			m := wantError(t, rp, tc.status, tc.code, tc.substr)
			if string(m.ID) != "0" {
				t.Errorf("error id = %s, want the initialize id 0", m.ID)
			}
			if got := rp.header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.retryAfter)
			}
			if sid := rp.header.Get("Mcp-Session-Id"); sid != "" {
				t.Errorf("a failed initialize handed out session %q", sid)
			}
			if n := h.store.Len(); n != 0 {
				t.Errorf("store holds %d sessions", n)
			}
		})
	}
}

// TestRequestTimeout: a request the server never answers gets -32001
// after request_timeout, and the server is told to stop.
func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *setup) { s.cfg.RequestTimeout = 250 * time.Millisecond })
	sid := h.initialize(t, Version20250618)
	rp := h.do(t, req{sid: sid, version: Version20250618, body: toolCall("slow-1", "hang")})
	m := wantError(t, rp, http.StatusOK, pipeline.CodeRequestTimeout, "request_timeout (250ms)")
	if string(m.ID) != `"slow-1"` {
		t.Errorf("error id = %s", m.ID)
	}
	cancel := h.up.conn(t, 0).waitMethod(t, "notifications/cancelled", "")
	if got := string(cancel.CancelledRequestID()); got != `"slow-1"` {
		t.Errorf("cancelled requestId = %s, want \"slow-1\": %s", got, cancel.Raw)
	}
	// The session is fine.
	wantStatus(t, h.do(t, req{sid: sid, version: Version20250618, body: toolCall(2, "echo")}), http.StatusOK)
}

// TestMaxSessions: at max_sessions with every session busy a new
// initialize is 503 + Retry-After; ending a session frees its slot. (An idle
// session would give way instead: see TestEvictionAtBounds.)
func TestMaxSessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *setup) { s.maxSessions = 1 })
	sid := h.initialize(t, Version20250618)
	requestInFlight(t, h, sid, "", 0)
	rp := h.do(t, req{body: initBody(Version20250618)})
	wantError(t, rp, http.StatusServiceUnavailable, pipeline.CodeInternalError, "max_sessions")
	if got := rp.header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
	if n := h.up.opened(); n != 1 {
		t.Errorf("the refused initialize opened an upstream (%d conns)", n)
	}
	wantStatus(t, h.do(t, req{method: http.MethodDelete, sid: sid, version: Version20250618}), http.StatusNoContent)
	h.initialize(t, Version20250618)
}

// TestStoreClosed: a store that is shutting down takes no new session.
func TestStoreClosed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20250618)
	h.store.Close("shutting down")
	h.up.conn(t, 0).waitClosed(t)
	rp := h.do(t, req{body: initBody(Version20250618)})
	wantError(t, rp, http.StatusServiceUnavailable, pipeline.CodeInternalError, "shutting down")
	if n := h.up.opened(); n != 1 {
		t.Errorf("initialize on a closed store opened an upstream")
	}
	wantError(t, h.do(t, req{sid: sid, version: Version20250618, body: toolCall(1, "echo")}),
		http.StatusNotFound, codeSessionNotFound, "Session not found")
}

// TestMaxInFlight: beyond max_in_flight a request is 429 + Retry-After;
// notifications still pass.
func TestMaxInFlight(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *setup) { s.cfg.MaxInFlight = 1 })
	sid := h.initialize(t, Version20250618)
	c := h.up.conn(t, 0)
	h.start(t, req{sid: sid, version: Version20250618, body: toolCall(1, "hang")})
	c.waitMethod(t, "tools/call", "1")
	rp := h.do(t, req{sid: sid, version: Version20250618, body: toolCall(2, "echo")})
	m := wantError(t, rp, http.StatusTooManyRequests, pipeline.CodeInternalError, "too many requests in flight")
	if string(m.ID) != "2" {
		t.Errorf("error id = %s, want 2", m.ID)
	}
	if got := rp.header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
	wantStatus(t, h.do(t, req{sid: sid, version: Version20250618, body: rpcNotification("notifications/x", "")}), http.StatusAccepted)
	if strings.Contains(c.receivedSummary(), `"id":2`) {
		t.Errorf("the refused request reached the upstream")
	}
}

// TestDuplicateInFlightID: a second request reusing an id in flight is 400
// -32600; the same value as a string is another id.
func TestDuplicateInFlightID(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20250618)
	c := h.up.conn(t, 0)
	h.start(t, req{sid: sid, version: Version20250618, body: toolCall(7, "hang")})
	c.waitMethod(t, "tools/call", "7")
	rp := h.do(t, req{sid: sid, version: Version20250618, body: toolCall(7, "echo")})
	m := wantError(t, rp, http.StatusBadRequest, pipeline.CodeInvalidRequest, "already in flight")
	if string(m.ID) != "7" {
		t.Errorf("error id = %s, want 7", m.ID)
	}
	rp = h.do(t, req{sid: sid, version: Version20250618, body: toolCall("7", "echo")})
	wantStatus(t, rp, http.StatusOK)
	if m := rp.only(t); string(m.ID) != `"7"` || m.Result == nil {
		t.Errorf("string id 7: got %s", m.raw)
	}
}

// TestClientCancel: notifications/cancelled ends the cancelled request's
// stream without a response and is forwarded to the server; a late answer
// is dropped.
func TestClientCancel(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20251125)
	c := h.up.conn(t, 0)
	st := h.openStream(t, context.Background(), req{sid: sid, version: Version20251125, body: toolCall(9, "wait")})
	st.next(t) // priming
	c.waitMethod(t, "tools/call", "9")
	cancel := rpcNotification("notifications/cancelled", `{"requestId":9,"reason":"user pressed stop"}`)
	wantStatus(t, h.do(t, req{sid: sid, version: Version20251125, body: cancel}), http.StatusAccepted)
	st.expectEnd(t)
	got := c.waitMethod(t, "notifications/cancelled", "")
	if string(got.Raw) != cancel {
		t.Errorf("upstream got %s, want %s", got.Raw, cancel)
	}
	// The server answers anyway; the late answer goes nowhere, and the
	// session goes on.
	h.up.releaseAll()
	rp := h.do(t, req{sid: sid, version: Version20251125, body: toolCall(10, "echo")})
	if m := rp.only(t); string(m.ID) != "10" || !strings.Contains(string(m.Result), `"tool":"echo"`) {
		t.Errorf("next call: got %s", m.raw)
	}
}
