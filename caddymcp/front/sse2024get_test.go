package front

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// Tests of what the 2024-11-05 transport (sse2024.go) accepts and refuses,
// and of the endpoint event its GET starts with.

// TestSSE2024Accept: a legacy POST is answered 202 whatever it accepts; a
// GET without session that does not accept text/event-stream opens nothing.
func TestSSE2024Accept(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	lc := h.openSSE2024(t, req{})
	for i, r := range []req{{noAccept: true}, {accept: "*/*"}, {accept: "application/json"}, {accept: "text/event-stream"}} {
		r.body = rpcRequest(i+1, "ping", "")
		wantStatus(t, h.doAt(t, lc.endpoint, r), http.StatusAccepted)
		lc.nextResponse(t, fmt.Sprint(i+1))
	}
	wantError(t, h.doAt(t, sse2024Path, req{method: http.MethodGet, accept: "application/json"}),
		http.StatusNotAcceptable, pipeline.CodeInvalidRequest, "text/event-stream")
	if n := h.store.Len(); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
}

// TestSSE2024GetRefused: a legacy GET that fails a check, or whose session
// cannot start, gets the answer an initialize would get and leaves no
// session behind.
func TestSSE2024GetRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		mods       func(*setup)
		r          req
		status     int
		code       int
		substr     string
		retryAfter string
		sessions   int // left in the store
	}{
		{name: "foreign Origin", r: req{origin: "http://evil.example.com"},
			status: http.StatusForbidden, code: pipeline.CodeInvalidRequest, substr: "Origin"},
		{name: "non-loopback Host", r: req{host: "evil.example.com"},
			status: http.StatusForbidden, code: pipeline.CodeInvalidRequest, substr: "Host"},
		{name: "unsupported MCP-Protocol-Version", r: req{version: "1999-01-01"},
			status: http.StatusBadRequest, code: codeUnsupportedProtocolVersion, substr: `"1999-01-01"`},
		{name: "upstream busy",
			mods: func(s *setup) {
				s.up.openErr = &upstream.BusyError{RetryAfter: 3 * time.Second, Err: errors.New("pool full")}
			},
			status: http.StatusServiceUnavailable, code: pipeline.CodeInternalError, substr: "max_processes", retryAfter: "3"},
		{name: "upstream fails",
			mods:   func(s *setup) { s.up.openErr = errors.New("exec: no such file") },
			status: http.StatusBadGateway, code: pipeline.CodeInternalError, substr: "could not be started"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mods []func(*setup)
			if tc.mods != nil {
				mods = append(mods, tc.mods)
			}
			h := newHarness(t, mods...)
			r := tc.r
			r.method = http.MethodGet
			rp := h.doAt(t, sse2024Path, r)
			wantError(t, rp, tc.status, tc.code, tc.substr)
			if got := rp.header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.retryAfter)
			}
			if n := h.store.Len(); n != 0 {
				t.Errorf("%d sessions left behind", n)
			}
			if tc.mods == nil && h.up.opened() != 0 {
				t.Error("a refused GET opened an upstream connection")
			}
		})
	}
	t.Run("max_sessions", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(s *setup) { s.maxSessions = 1 })
		requestInFlight(t, h, h.initialize(t, Version20250618), "", 0) // busy: it does not give way
		rp := h.doAt(t, sse2024Path, req{method: http.MethodGet})
		wantError(t, rp, http.StatusServiceUnavailable, pipeline.CodeInternalError, "max_sessions")
		if got := rp.header.Get("Retry-After"); got != "1" {
			t.Errorf("Retry-After = %q, want 1", got)
		}
		if n := h.up.opened(); n != 1 {
			t.Errorf("the refused GET opened an upstream (%d conns)", n)
		}
	})
}

// TestSSE2024EndpointURI: the endpoint repeats the request's path, escaped,
// and nothing of its host.
func TestSSE2024EndpointURI(t *testing.T) {
	t.Parallel()
	for target, want := range map[string]string{
		"https://mcp.example.com/mcp":        "/mcp?sessionId=abc",
		"/":                                  "/?sessionId=abc",
		"/a%20b/mcp?x=1":                     "/a%20b/mcp?sessionId=abc",
		"http://[::1]:8443/tenant/%E2%9C%93": "/tenant/%E2%9C%93?sessionId=abc",
	} {
		if got := sse2024Endpoint(httptest.NewRequest(http.MethodGet, target, nil).URL.EscapedPath(), "abc"); got != want {
			t.Errorf("endpoint for %s = %q, want %q", target, got, want)
		}
	}
}
