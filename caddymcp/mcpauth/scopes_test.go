package mcpauth

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/oauth/authtest"
)

// scopedHandler is mcp_auth with per-tool and per-method scopes.
func scopedHandler(t *testing.T, issuer string) *AuthHandler {
	h := &AuthHandler{Resource: authResource, Issuers: []string{issuer}, RequiredScopes: []string{"mcp:tools"},
		MaxMessageSize: 1 << 10,
		ScopeRules: []ScopeRule{
			{Scopes: []string{"files:write"}, Tools: []string{"write_*", "delete/*"}},
			{Scopes: []string{"admin", "files:write"}, Tools: []string{"delete/*"}, Methods: []string{"tools/call"}},
			{Scopes: []string{"res:read"}, Methods: []string{"resources/*"}},
		}}
	provisionAuth(t, h)
	return h
}

func call(tool string) string {
	return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `"}}`
}

// TestAuthScopeRules: the scopes an operation needs are required_scopes
// plus those of every rule that applies to one of the request's messages;
// the 401 and 403 challenges name them all at once, and the body still
// reaches the next handler whole.
func TestAuthScopeRules(t *testing.T) {
	as := newAuthServer(t)
	h := scopedHandler(t, as.URL)
	token := func(scopes ...string) string { return aliceBearer(t, as, scopes...) }
	tests := []struct {
		name       string
		body       string
		auth       string
		wantStatus int
		wantScope  string // the challenge's scope=, when refused
		wantMsg    string
	}{
		{"list needs only required", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, token("mcp:tools"), 418, "", ""},
		{"plain tool", call("echo"), token("mcp:tools"), 418, "", ""},
		{"write tool without its scope", call("write_file"), token("mcp:tools"), 403, "mcp:tools files:write", "lacks the scope(s) files:write"},
		{"write tool with it", call("write_file"), token("mcp:tools", "files:write"), 418, "", ""},
		{"glob star crosses slashes", call("delete/a/b"), token("mcp:tools", "files:write"), 403, "mcp:tools files:write admin", "lacks the scope(s) admin"},
		{"every scope at once", call("delete/x"), token(), 403, "mcp:tools files:write admin", "lacks the scope(s) mcp:tools files:write admin"},
		{"no token asks for all", call("delete/x"), "", 401, "mcp:tools files:write admin", "needs an OAuth access token"},
		{"method glob", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///a"}}`, token("mcp:tools"), 403, "mcp:tools res:read", "res:read"},
		{"batch sums its messages", `[` + call("write_x") + `,{"jsonrpc":"2.0","id":2,"method":"resources/list"}]`, token("mcp:tools", "files:write"), 403,
			"mcp:tools files:write res:read", "lacks the scope(s) res:read"},
		{"a response needs no more", `{"jsonrpc":"2.0","id":1,"result":{}}`, token("mcp:tools"), 418, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			var got []byte
			next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				got, _ = io.ReadAll(r.Body)
				w.WriteHeader(http.StatusTeapot)
				return nil
			})
			w := httptest.NewRecorder()
			if err := h.ServeHTTP(w, r, next); err != nil {
				t.Fatal(err)
			}
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.wantStatus, w.Body)
			}
			if tc.wantStatus == http.StatusTeapot {
				if string(got) != tc.body {
					t.Fatalf("next read %q, want the whole body %q", got, tc.body)
				}
				return
			}
			if got != nil {
				t.Fatal("a refused request reached the next handler")
			}
			if ch := w.Header().Get("WWW-Authenticate"); !strings.Contains(ch, `scope="`+tc.wantScope+`"`) {
				t.Fatalf("WWW-Authenticate %s, want scope=%q", ch, tc.wantScope)
			}
			if !strings.Contains(w.Body.String(), tc.wantMsg) {
				t.Fatalf("body %s, want %q", w.Body, tc.wantMsg)
			}
		})
	}
}

// TestAuthScopeRulesRefuseUnreadableBodies: the scopes of a body that is
// not JSON-RPC, or that a server would read otherwise than mcp_auth
// ({"name":"echo","Name":"write_file"} is write_file to a Go server), are
// unknown, so it is refused (400 and the JSON-RPC error mcp_proxy gives)
// rather than let through with required_scopes only, as it once was.
func TestAuthScopeRulesRefuseUnreadableBodies(t *testing.T) {
	as := newAuthServer(t)
	h := scopedHandler(t, as.URL)
	params := func(p string) string { return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":` + p + `}` }
	tests := []struct {
		name, body, auth string
		code             int
		says             string
	}{
		{"tool named twice", params(`{"name":"echo","Name":"write_file"}`), aliceBearer(t, as, "mcp:tools"), -32600, `duplicate member "name" (also "Name")`},
		{"tool named in capitals", params(`{"NAME":"write_file"}`), aliceBearer(t, as, "mcp:tools"), -32600, `must be spelled "name"`},
		{"tool named with an escape", params(`{"name":"echo","\u004eame":"write_file"}`), aliceBearer(t, as, "mcp:tools"), -32600, `(also "Name")`},
		{"method in another case", `{"jsonrpc":"2.0","id":1,"Method":"tools/call","params":{"name":"write_file"}}`, aliceBearer(t, as, "mcp:tools"), -32600, `must be spelled "method"`},
		{"batch element", `[` + call("echo") + `,` + params(`{"name":"echo","nAme":"write_x"}`) + `]`, aliceBearer(t, as, "mcp:tools"), -32600, "batch element 1"},
		{"without a token too", params(`{"name":"echo","Name":"write_file"}`), "", -32600, "duplicate member"},
		{"not JSON", `not json`, aliceBearer(t, as, "mcp:tools"), -32700, "parse error"},
		{"not JSON-RPC", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_x"},"result":{}}`, aliceBearer(t, as, "mcp:tools"), -32600, "cannot carry"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			reached := false
			next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				reached = true
				return nil
			})
			w := httptest.NewRecorder()
			if err := h.ServeHTTP(w, r, next); err != nil {
				t.Fatal(err)
			}
			if reached || w.Code != http.StatusBadRequest {
				t.Fatalf("status %d (next reached: %v), want 400: %s", w.Code, reached, w.Body)
			}
			var msg struct {
				Error struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &msg); err != nil || msg.Error.Code != tc.code || !strings.Contains(msg.Error.Message, tc.says) {
				t.Fatalf("body %s, want code %d saying %q", w.Body, tc.code, tc.says)
			}
		})
	}
}

// TestAuthScopeRulesBodyTooLarge: a body mcp_auth cannot read whole could
// name a scoped tool, so it is refused (413) rather than let through.
func TestAuthScopeRulesBodyTooLarge(t *testing.T) {
	as := newAuthServer(t)
	h := scopedHandler(t, as.URL)
	tok, err := as.Token("alice", authResource, time.Hour, "mcp:tools")
	if err != nil {
		t.Fatal(err)
	}
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_x","pad":"` + strings.Repeat("x", 2<<10) + `"}}`
	r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+tok)
	w, s := serveAuth(t, h, r)
	if s.called || w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "max_message_size (1024 bytes)") {
		t.Fatalf("%d %s (next called: %v)", w.Code, w.Body, s.called)
	}
}

func TestScopeRuleValidate(t *testing.T) {
	for _, tc := range []struct {
		rule    ScopeRule
		wantErr string
	}{
		{ScopeRule{Scopes: []string{"a"}, Tools: []string{"x"}}, ""},
		{ScopeRule{Scopes: []string{"a"}, Methods: []string{"tools/*"}}, ""},
		{ScopeRule{Tools: []string{"x"}}, "at least one scope"},
		{ScopeRule{Scopes: []string{"a"}}, "say which operations"},
	} {
		err := tc.rule.validate()
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%+v: err %v, want %q", tc.rule, err, tc.wantErr)
		}
	}
}

// aliceBearer is an Authorization value with a token of the test AS for
// alice, audience authResource, valid for an hour, with scopes.
func aliceBearer(t *testing.T, as *authtest.Server, scopes ...string) string {
	t.Helper()
	tok, err := as.Token("alice", authResource, time.Hour, scopes...)
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + tok
}
