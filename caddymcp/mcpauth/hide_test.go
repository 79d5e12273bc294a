package mcpauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/pipeline/filter"
)

// hidingHandler is scopedHandler with hide_unauthorized (set after
// Provision, which needs a configuration's mcp app for it).
func hidingHandler(t *testing.T, issuer string) *AuthHandler {
	h := scopedHandler(t, issuer)
	h.HideUnauthorized = true
	h.hidings = &hidings{byID: make(map[string]*hiding)}
	return h
}

// TestHiddenConfig: each rule a token does not satisfy hides its globs in
// every kind of name its methods reach; a rule without tool globs hides
// every name of those kinds.
func TestHiddenConfig(t *testing.T) {
	h := &AuthHandler{ScopeRules: []ScopeRule{
		{Scopes: []string{"files:write"}, Tools: []string{"write_*", "delete/*"}},
		{Scopes: []string{"admin", "files:write"}, Tools: []string{"delete/*"}, Methods: []string{"tools/call"}},
		{Scopes: []string{"res:read"}, Methods: []string{"resources/*"}},
		{Scopes: []string{"prompts"}, Tools: []string{"secret_*"}, Methods: []string{"prompts/get"}},
	}}
	tests := []struct {
		name   string
		scopes []string
		want   *filter.Config
	}{
		{"every scope: nothing hidden", []string{"files:write", "admin", "res:read", "prompts"}, nil},
		{"no scope", nil, &filter.Config{
			Tools:     &filter.Rules{Deny: []string{"write_*", "delete/*", "delete/*"}},
			Prompts:   &filter.Rules{Deny: []string{"write_*", "delete/*", "secret_*"}},
			Resources: &filter.Rules{Deny: []string{"write_*", "delete/*", "*"}},
		}},
		{"one scope of a rule is not enough", []string{"admin", "res:read", "prompts"}, &filter.Config{
			Tools:     &filter.Rules{Deny: []string{"write_*", "delete/*", "delete/*"}},
			Prompts:   &filter.Rules{Deny: []string{"write_*", "delete/*"}},
			Resources: &filter.Rules{Deny: []string{"write_*", "delete/*"}},
		}},
		{"only the admin rule", []string{"files:write", "res:read", "prompts"}, &filter.Config{
			Tools: &filter.Rules{Deny: []string{"delete/*"}},
		}},
		{"a method-only rule hides every name it reaches", []string{"files:write", "admin", "prompts"}, &filter.Config{
			Resources: &filter.Rules{Deny: []string{"*"}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := h.hiddenConfig(tc.scopes); !reflect.DeepEqual(got, tc.want) {
				gj, _ := json.Marshal(got)
				wj, _ := json.Marshal(tc.want)
				t.Fatalf("got  %s\nwant %s", gj, wj)
			}
		})
	}
}

// TestAuthHideUnauthorized: with hide_unauthorized a call the token lacks
// the scopes for is let through (mcp_proxy's filter answers it as
// unknown) with what the token may not see on the request; a call that
// needs a scope the filter does not hide for (required_scopes) is still
// refused with 403; a token with every scope gets nothing hidden.
func TestAuthHideUnauthorized(t *testing.T) {
	as := newAuthServer(t)
	h := hidingHandler(t, as.URL)
	token := func(scopes ...string) string { return aliceBearer(t, as, scopes...) }
	tests := []struct {
		name       string
		body       string
		auth       string
		wantStatus int
		wantHidden string // the claim's tool denies, "" for no claim
	}{
		{"hidden tool passes to the filter", call("write_file"), token("mcp:tools"), 418, "write_*"},
		{"list passes with the claim", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, token("mcp:tools"), 418, "write_*"},
		{"hidden resource passes", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///a"}}`, token("mcp:tools"), 418, "write_*"},
		{"batch of a hidden and a plain call", `[` + call("write_x") + `,` + call("echo") + `]`, token("mcp:tools"), 418, "write_*"},
		{"required_scopes still refuse", call("write_file"), token("files:write"), 403, ""},
		{"every scope: nothing hidden", call("delete/x"), token("mcp:tools", "files:write", "admin", "res:read"), 418, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", tc.auth)
			repl := caddy.NewReplacer()
			r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
			var claim string
			var set bool
			next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				claim, set = repl.GetString("http.auth.user." + mcpstate.HiddenClaim)
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
			if tc.wantHidden == "" {
				if set {
					t.Fatalf("claim set: %s", claim)
				}
				return
			}
			var c filter.Config
			if err := json.Unmarshal([]byte(claim), &c); err != nil || c.Tools == nil || c.Tools.Deny[0] != tc.wantHidden {
				t.Fatalf("claim %q (%v), want tools denying %s first", claim, err, tc.wantHidden)
			}
		})
	}
}

// TestAuthHideUnauthorizedTokenClaim: a token's own claim of the hidden
// claim's name never becomes it (it could say "hide nothing").
func TestAuthHideUnauthorizedTokenClaim(t *testing.T) {
	if placeholderSafe(mcpstate.HiddenClaim) {
		t.Fatalf("a token's %s claim would be copied to the request", mcpstate.HiddenClaim)
	}
}

// TestAuthProvisionRefusesBadHide: hide_unauthorized without scope rules
// fails with what to do.
func TestAuthProvisionRefusesBadHide(t *testing.T) {
	for _, tc := range []struct {
		rules []ScopeRule
		want  string
	}{
		{nil, "there is none: add a scope"},
	} {
		h := &AuthHandler{HideUnauthorized: true, ScopeRules: tc.rules}
		if err := h.checkHideRules(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("err = %v, want %q", err, tc.want)
		}
	}
}
