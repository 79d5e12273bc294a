package front

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// TestBadInput: every protocol error gets the status the spec (or SDK
// practice) names and a JSON-RPC error body that says what to fix.
func TestBadInput(t *testing.T) {
	t.Parallel()
	const v = Version20250618
	tests := []struct {
		name        string
		mods        func(*setup)
		withSession bool // the request carries a live session's id
		req         func(sid string) req
		status      int
		code        int
		substr      string
		wantHeader  map[string]string
		wantID      string // the error's id, "" for null
	}{
		{
			name:   "malformed JSON",
			req:    func(string) req { return req{body: `{"jsonrpc":"2.0","id":1,`} },
			status: http.StatusBadRequest, code: pipeline.CodeParseError, substr: "parse error",
		},
		{
			name:   "JSON that is not JSON-RPC",
			req:    func(string) req { return req{body: `{"hello":"world"}`} },
			status: http.StatusBadRequest, code: pipeline.CodeInvalidRequest, substr: "jsonrpc",
		},
		{
			name:   "a JSON number",
			req:    func(string) req { return req{body: `42`} },
			status: http.StatusBadRequest, code: pipeline.CodeInvalidRequest, substr: "must be a JSON object",
		},
		{
			name:   "empty body",
			req:    func(string) req { return req{body: ` `} },
			status: http.StatusBadRequest, code: pipeline.CodeParseError, substr: "empty",
		},
		{
			name: "oversized body",
			mods: func(s *setup) { s.cfg.MaxMessageSize = 64 },
			req: func(string) req {
				return req{body: rpcRequest(1, "tools/call", `{"name":"echo","arguments":{"pad":"`+strings.Repeat("x", 200)+`"}}`)}
			},
			status: http.StatusRequestEntityTooLarge, code: pipeline.CodeInvalidRequest, substr: "max_message_size (64 bytes)",
		},
		{
			name:   "missing session id",
			req:    func(string) req { return req{version: v, body: rpcRequest(1, "tools/list", "")} },
			status: http.StatusBadRequest, code: pipeline.CodeInvalidRequest, substr: "Mcp-Session-Id header is required",
			wantID: "1",
		},
		{
			name: "unknown session",
			req: func(string) req {
				return req{sid: "0123456789abcdef0123456789abcdef", version: v, body: rpcRequest(1, "tools/list", "")}
			},
			status: http.StatusNotFound, code: codeSessionNotFound, substr: "Session not found",
		},
		{
			name:        "POST accepting only JSON",
			withSession: true,
			req: func(sid string) req {
				return req{sid: sid, version: v, accept: "application/json", body: rpcRequest(1, "tools/list", "")}
			},
			status: http.StatusNotAcceptable, code: pipeline.CodeInvalidRequest, substr: "text/event-stream",
		},
		{
			name:   "POST without Accept",
			req:    func(string) req { return req{noAccept: true, body: initBody(v)} },
			status: http.StatusNotAcceptable, code: pipeline.CodeInvalidRequest, substr: "Not Acceptable",
		},
		{
			name:        "GET accepting only JSON",
			withSession: true,
			req: func(sid string) req {
				return req{method: http.MethodGet, sid: sid, version: v, accept: "application/json"}
			},
			status: http.StatusNotAcceptable, code: pipeline.CodeInvalidRequest, substr: "text/event-stream",
		},
		{
			name:   "wrong Content-Type",
			req:    func(string) req { return req{contentType: "text/plain", body: initBody(v)} },
			status: http.StatusUnsupportedMediaType, code: pipeline.CodeInvalidRequest, substr: "application/json",
		},
		{
			name:        "unsupported MCP-Protocol-Version on POST",
			withSession: true,
			req: func(sid string) req {
				return req{sid: sid, version: "1999-01-01", body: rpcRequest(1, "tools/list", "")}
			},
			status: http.StatusBadRequest, code: codeUnsupportedProtocolVersion, substr: `"1999-01-01"`,
			wantID: "1",
		},
		{
			name:        "unsupported MCP-Protocol-Version on GET",
			withSession: true,
			req: func(sid string) req {
				return req{method: http.MethodGet, sid: sid, version: "1999-01-01"}
			},
			status: http.StatusBadRequest, code: codeUnsupportedProtocolVersion, substr: `"1999-01-01"`,
		},
		{
			name:        "batch with a 2025-06-18 header",
			withSession: true,
			req: func(sid string) req {
				return req{sid: sid, version: v, body: "[" + toolCall(1, "echo") + "," + toolCall(2, "echo") + "]"}
			},
			status: http.StatusBadRequest, code: pipeline.CodeInvalidRequest, substr: "batches are only allowed in protocol revisions up to 2025-03-26",
		},
		{
			name:   "initialize in a batch",
			req:    func(string) req { return req{body: "[" + initBody(Version20250326) + "]"} },
			status: http.StatusBadRequest, code: pipeline.CodeInvalidRequest, substr: "initialize must not be part of a batch",
			wantID: "0",
		},
		{
			name:        "initialize beside another message",
			withSession: true,
			req: func(sid string) req {
				return req{sid: sid, version: Version20250326, body: "[" + initBody(Version20250326) + "," + toolCall(1, "echo") + "]"}
			},
			status: http.StatusBadRequest, code: pipeline.CodeInvalidRequest, substr: "initialize must be sent alone",
			wantID: "0",
		},
		{
			name:   "initialize as a notification",
			req:    func(string) req { return req{body: rpcNotification("initialize", `{"protocolVersion":"2025-06-18"}`)} },
			status: http.StatusBadRequest, code: pipeline.CodeInvalidRequest, substr: "must be a request with an id",
		},
		{
			name:   "foreign Origin",
			req:    func(string) req { return req{origin: "http://evil.example.com", body: initBody(v)} },
			status: http.StatusForbidden, code: pipeline.CodeInvalidRequest, substr: `Origin "http://evil.example.com" is not allowed`,
		},
		{
			name:   "non-loopback Host on a loopback listener",
			req:    func(string) req { return req{host: "evil.example.com", body: initBody(v)} },
			status: http.StatusForbidden, code: pipeline.CodeInvalidRequest, substr: `Host "evil.example.com" is not allowed`,
		},
		{
			name:   "PUT",
			req:    func(string) req { return req{method: http.MethodPut, body: initBody(v)} },
			status: http.StatusMethodNotAllowed, code: pipeline.CodeInvalidRequest, substr: "POST, GET and DELETE",
			wantHeader: map[string]string{"Allow": "GET, POST, DELETE"},
		},
		{
			// With text/event-stream it would open a 2024-11-05 session.
			name:   "GET without session accepting only JSON",
			req:    func(string) req { return req{method: http.MethodGet, accept: "application/json"} },
			status: http.StatusNotAcceptable, code: pipeline.CodeInvalidRequest, substr: "text/event-stream",
		},
		{
			name:   "DELETE without session",
			req:    func(string) req { return req{method: http.MethodDelete} },
			status: http.StatusBadRequest, code: pipeline.CodeInvalidRequest, substr: "Mcp-Session-Id",
		},
		{
			name: "DELETE of an unknown session",
			req: func(string) req {
				return req{method: http.MethodDelete, sid: "no-such-session"}
			},
			status: http.StatusNotFound, code: codeSessionNotFound, substr: "Session not found",
		},
		{
			name: "GET of an unknown session",
			req: func(string) req {
				return req{method: http.MethodGet, sid: "no-such-session"}
			},
			status: http.StatusNotFound, code: codeSessionNotFound, substr: "Session not found",
		},
		{
			// A dual-era client probes with a 2026 request; a legacy-only
			// endpoint answers -32601 with the request's id, which makes it
			// fall back to initialize (docs/transports.md, "Telling
			// the eras apart").
			name: "2026-07-28 server/discover",
			req: func(string) req {
				return req{version: Version20260728, body: rpcRequest("probe-1", "server/discover",
					`{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}`)}
			},
			status: http.StatusBadRequest, code: pipeline.CodeMethodNotFound, substr: "start with initialize",
			wantID: `"probe-1"`,
		},
		{
			name: "2026-07-28 _meta without the header",
			req: func(string) req {
				return req{body: rpcRequest(7, "tools/list",
					`{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}`)}
			},
			status: http.StatusBadRequest, code: pipeline.CodeMethodNotFound, substr: "start with initialize",
			wantID: "7",
		},
		{
			name:        "2026-07-28 header on a session",
			withSession: true,
			req: func(sid string) req {
				return req{sid: sid, version: Version20260728, body: rpcRequest(8, "tools/list", "")}
			},
			status: http.StatusBadRequest, code: pipeline.CodeMethodNotFound, substr: "start with initialize",
			wantID: "8",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mods []func(*setup)
			if tc.mods != nil {
				mods = append(mods, tc.mods)
			}
			h := newHarness(t, mods...)
			sid := ""
			if tc.withSession {
				sid = h.initialize(t, v)
			}
			opened := h.up.opened()
			rp := h.do(t, tc.req(sid))
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
			for k, want := range tc.wantHeader {
				if got := rp.header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if got := h.up.opened(); got != opened {
				t.Errorf("a refused request opened an upstream connection (%d -> %d)", opened, got)
			}
			if sid != "" {
				// The refused request did not reach the server.
				c := h.up.conn(t, 0)
				for _, m := range []string{"tools/list", "tools/call"} {
					if strings.Contains(c.receivedSummary(), `"`+m+`"`) {
						t.Errorf("the upstream received %s: %s", m, c.receivedSummary())
					}
				}
			}
		})
	}
}

// TestOriginAndHost: the DNS-rebinding defence admits loopback origins, the
// request's own origin and configured extras, and nothing else.
func TestOriginAndHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		origins []string
		hosts   []string
		host    string
		origin  string // "self" means the httptest server's own origin
		ok      bool
		substr  string
	}{
		{name: "no Origin", ok: true},
		{name: "foreign Origin", origin: "http://evil.example.com", substr: "Origin"},
		{name: "Origin null", origin: "null", substr: "Origin"},
		{name: "localhost Origin", origin: "http://localhost:1234", ok: true},
		{name: "127.0.0.1 Origin", origin: "http://127.0.0.1:9", ok: true},
		{name: "[::1] Origin", origin: "http://[::1]:80", ok: true},
		{name: "own Origin", origin: "self", ok: true},
		{name: "lookalike of localhost", origin: "http://localhost.evil.example.com", substr: "Origin"},
		{name: "allowed_origins", origins: []string{"https://app.example.com"}, origin: "https://app.example.com", ok: true},
		{name: "allowed_origins is exact", origins: []string{"https://app.example.com"}, origin: "https://app.example.com.evil.example.com", substr: "Origin"},
		{name: "allowed_origins *", origins: []string{"*"}, origin: "http://evil.example.com", ok: true},
		{name: "foreign Host", host: "evil.example.com", substr: "Host"},
		{name: "foreign Host with port", host: "evil.example.com:8080", substr: "Host"},
		{name: "localhost Host", host: "localhost:1234", ok: true},
		{name: "allowed_hosts", hosts: []string{"evil.example.com"}, host: "evil.example.com", ok: true},
		{name: "allowed_hosts ignores the port", hosts: []string{"mcp.example.com"}, host: "mcp.example.com:8443", ok: true},
		{name: "allowed_hosts *", hosts: []string{"*"}, host: "anything.example.com", ok: true},
		{name: "allowed Host, its own Origin", hosts: []string{"mcp.example.com"}, host: "mcp.example.com", origin: "https://mcp.example.com", ok: true},
		{name: "allowed Host, another Origin", hosts: []string{"mcp.example.com"}, host: "mcp.example.com", origin: "https://other.example.com", substr: "Origin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(s *setup) {
				s.cfg.AllowedOrigins = tc.origins
				s.cfg.AllowedHosts = tc.hosts
			})
			origin := tc.origin
			if origin == "self" {
				origin = h.srv.URL
			}
			rp := h.do(t, req{host: tc.host, origin: origin, body: initBody(Version20250618)})
			if tc.ok {
				wantStatus(t, rp, http.StatusOK)
				if rp.header.Get("Mcp-Session-Id") == "" {
					t.Errorf("no session id: %s", rp)
				}
				return
			}
			wantError(t, rp, http.StatusForbidden, pipeline.CodeInvalidRequest, tc.substr)
			if n := h.up.opened(); n != 0 {
				t.Errorf("a forbidden request opened %d upstream connections", n)
			}
		})
	}
}

// TestForeignOriginOnEveryMethod: the check comes before anything else.
func TestForeignOriginOnEveryMethod(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20250618)
	for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete, http.MethodPut} {
		rp := h.do(t, req{method: method, sid: sid, version: Version20250618, origin: "http://evil.example.com",
			body: toolCall(1, "echo")})
		wantError(t, rp, http.StatusForbidden, pipeline.CodeInvalidRequest, "Origin")
	}
	// The session is untouched: DELETE did not end it.
	wantStatus(t, h.do(t, req{sid: sid, version: Version20250618, body: toolCall(2, "echo")}), http.StatusOK)
}

// TestSessionBoundToUser: a session is usable only by the user that
// created it.
func TestSessionBoundToUser(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testUser)
	rp := h.do(t, req{user: "alice", body: initBody(Version20250618)})
	wantStatus(t, rp, http.StatusOK)
	sid := rp.header.Get("Mcp-Session-Id")
	other := h.do(t, req{user: "mallory", sid: sid, version: Version20250618, body: toolCall(1, "echo")})
	wantError(t, other, http.StatusForbidden, pipeline.CodeInvalidRequest, "another user")
	same := h.do(t, req{user: "alice", sid: sid, version: Version20250618, body: toolCall(1, "echo")})
	wantStatus(t, same, http.StatusOK)
}

// TestMaxMessageSizeBoundary: a body of exactly max_message_size bytes is
// served; one byte more is refused with 413 before it is parsed.
func TestMaxMessageSizeBoundary(t *testing.T) {
	const v = Version20250618
	body := initBody(v)
	for _, tc := range []struct {
		name   string
		limit  int64
		status int
	}{
		{"at the limit", int64(len(body)), http.StatusOK},
		{"one byte over", int64(len(body)) - 1, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(s *setup) { s.cfg.MaxMessageSize = tc.limit })
			rp := h.do(t, req{body: body})
			if tc.status == http.StatusOK {
				wantStatus(t, rp, http.StatusOK)
				if m := rp.only(t); m.Error != nil {
					t.Fatalf("initialize at the limit failed: %s", m.raw)
				}
				return
			}
			wantError(t, rp, tc.status, pipeline.CodeInvalidRequest, "max_message_size ("+strconv.Itoa(len(body)-1)+" bytes)")
		})
	}
}
