package caddymcp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/auth/authtest"
)

const authResource = "https://mcp.example.com/mcp"

// provisionAuth provisions h as Caddy would.
func provisionAuth(t *testing.T, h *AuthHandler) {
	t.Helper()
	ctx, cancel := caddy.NewContext(configContext(t))
	t.Cleanup(cancel)
	if err := h.Provision(ctx); err != nil {
		t.Fatalf("Provision: %v", err)
	}
}

// configContext is the context of an empty configuration, whose mcp app
// mcp_auth's Provision loads.
func configContext(t *testing.T) caddy.Context {
	t.Helper()
	ctx, err := caddy.ProvisionContext(&caddy.Config{Admin: &caddy.AdminConfig{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

func newAuthServer(t *testing.T) *authtest.Server {
	t.Helper()
	as, err := authtest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(as.Close)
	return as
}

// seen is what the next handler saw.
type seen struct {
	called        bool
	user          string
	scopes        string
	authorization string
}

// serveAuth runs one request through h, returning the response and what
// the next handler saw.
func serveAuth(t *testing.T, h *AuthHandler, r *http.Request) (*httptest.ResponseRecorder, seen) {
	t.Helper()
	repl := caddy.NewReplacer()
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
	var s seen
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		s.called = true
		s.user, _ = repl.GetString("http.auth.user.id")
		s.scopes, _ = repl.GetString("http.auth.user.scopes")
		s.authorization = r.Header.Get("Authorization")
		w.WriteHeader(http.StatusTeapot)
		return nil
	})
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, r, next); err != nil {
		t.Fatalf("ServeHTTP: %v", err)
	}
	return w, s
}

func TestAuthHandlerChallenges(t *testing.T) {
	as := newAuthServer(t)
	h := &AuthHandler{Resource: authResource, Issuers: []string{as.URL}, RequiredScopes: []string{"mcp:read", "mcp:write"}}
	provisionAuth(t, h)
	token := func(aud string, ttl time.Duration, scopes ...string) string {
		tok, err := as.Token("alice", aud, ttl, scopes...)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	const meta = `resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="mcp:read mcp:write"`
	tests := []struct {
		name        string
		target      string
		auth        string
		wantStatus  int
		wantHeader  string // WWW-Authenticate prefix
		wantMessage string // in the JSON-RPC error message
	}{
		{"no token", "/mcp", "", 401, "Bearer " + meta, "needs an OAuth access token"},
		{"basic credentials", "/mcp", "Basic YTpi", 401, "Bearer " + meta, "needs an OAuth access token"},
		{"empty bearer", "/mcp", "Bearer ", 401, "Bearer " + meta, "needs an OAuth access token"},
		{"garbage token", "/mcp", "Bearer abc", 401, "Bearer " + meta + `, error="invalid_token"`, "invalid token"},
		{"wrong audience", "/mcp", token("https://other.example.com/mcp", time.Hour, "mcp:read", "mcp:write"), 401,
			"Bearer " + meta + `, error="invalid_token"`, "audience does not include https://mcp.example.com/mcp"},
		{"expired", "/mcp", token(authResource, -time.Minute, "mcp:read", "mcp:write"), 401,
			"Bearer " + meta + `, error="invalid_token"`, "expired"},
		{"missing a scope", "/mcp/sub", token(authResource, time.Hour, "mcp:read"), 403,
			"Bearer " + meta + `, error="insufficient_scope"`, "lacks the scope(s) mcp:write"},
		{"token in the query", "/mcp?access_token=x", "", 400,
			"Bearer " + meta + `, error="invalid_request"`, "query string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, tc.target, strings.NewReader(`{}`))
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			w, s := serveAuth(t, h, r)
			if s.called {
				t.Fatal("the request reached the next handler")
			}
			if w.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tc.wantStatus, w.Body)
			}
			if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, tc.wantHeader) {
				t.Fatalf("WWW-Authenticate = %s\nwant prefix     %s", got, tc.wantHeader)
			}
			var body struct {
				JSONRPC string          `json:"jsonrpc"`
				ID      json.RawMessage `json:"id"`
				Error   struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.JSONRPC != "2.0" || string(body.ID) != "null" {
				t.Fatalf("body %s is not a JSON-RPC error (%v)", w.Body, err)
			}
			if !strings.Contains(body.Error.Message, tc.wantMessage) {
				t.Fatalf("message = %q, want it to contain %q", body.Error.Message, tc.wantMessage)
			}
		})
	}
}

func TestAuthHandlerAdmits(t *testing.T) {
	as := newAuthServer(t)
	other := newAuthServer(t)
	tok, err := as.Token("alice", authResource, time.Hour, "mcp:read", "extra")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		h        AuthHandler
		wantUser string
		wantAuth string
	}{
		{"one issuer", AuthHandler{Issuers: []string{as.URL}, RequiredScopes: []string{"mcp:read"}}, "alice", ""},
		{"several issuers", AuthHandler{Issuers: []string{other.URL, as.URL}}, as.URL + "#alice", ""},
		{"keep_authorization", AuthHandler{Issuers: []string{as.URL}, KeepAuthorization: true}, "alice", "Bearer " + tok},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			h.Resource = authResource
			provisionAuth(t, &h)
			r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(`{}`))
			r.Header.Set("Authorization", "Bearer "+tok)
			w, s := serveAuth(t, &h, r)
			if !s.called || w.Code != http.StatusTeapot {
				t.Fatalf("not admitted: %d %s", w.Code, w.Body)
			}
			if s.user != tc.wantUser || s.scopes != "mcp:read extra" {
				t.Fatalf("user %q scopes %q, want %q", s.user, s.scopes, tc.wantUser)
			}
			if s.authorization != tc.wantAuth {
				t.Fatalf("next saw Authorization %q, want %q", s.authorization, tc.wantAuth)
			}
		})
	}
}

// TestAuthHandlerMetadata: the RFC 9728 document is served at the
// path-suffixed and the root well-known URL, built from the configuration
// whatever Host and scheme the request claims, and without a token.
func TestAuthHandlerMetadata(t *testing.T) {
	h := &AuthHandler{Resource: authResource, Issuers: []string{"https://auth.example.com"}, ScopesSupported: []string{"mcp:read", "mcp:write"}}
	provisionAuth(t, h)
	const want = `{"resource":"https://mcp.example.com/mcp","authorization_servers":["https://auth.example.com"],"scopes_supported":["mcp:read","mcp:write"],"bearer_methods_supported":["header"]}`
	for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		r := httptest.NewRequest(http.MethodGet, "http://evil.example.net"+path, nil)
		r.Header.Set("X-Forwarded-Proto", "http")
		w, s := serveAuth(t, h, r)
		if s.called || w.Code != 200 || w.Body.String() != want || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %q %s", path, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	}
	w, _ := serveAuth(t, h, httptest.NewRequest(http.MethodPost, "/.well-known/oauth-protected-resource/mcp", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST to the metadata: %d", w.Code)
	}
}

// TestAuthHandlerPassesOtherPaths: outside the resource's path nothing is
// checked (a prefix that is not a path segment is outside).
func TestAuthHandlerPassesOtherPaths(t *testing.T) {
	h := &AuthHandler{Resource: authResource, Issuers: []string{"https://auth.example.com"}}
	provisionAuth(t, h)
	for _, path := range []string{"/", "/mcpx", "/other/mcp", "/.well-known/oauth-protected-resource/other"} {
		w, s := serveAuth(t, h, httptest.NewRequest(http.MethodGet, path, nil))
		if !s.called || w.Code != http.StatusTeapot {
			t.Fatalf("%s was not passed through: %d %s", path, w.Code, w.Body)
		}
	}
	for _, path := range []string{"/mcp", "/mcp/", "/mcp/x"} {
		if _, s := serveAuth(t, h, httptest.NewRequest(http.MethodGet, path, nil)); s.called {
			t.Fatalf("%s was not guarded", path)
		}
	}
}

// TestAuthHandlerIssuerDown: keys that cannot be fetched give a 503 with
// Retry-After and no challenge (the token may be fine), naming no URL.
func TestAuthHandlerIssuerDown(t *testing.T) {
	as := newAuthServer(t)
	tok, err := as.Token("alice", authResource, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	h := &AuthHandler{Resource: authResource, Issuers: []string{as.URL}, JWKSURL: down.URL + "/jwks"}
	provisionAuth(t, h)
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w, s := serveAuth(t, h, r)
	if s.called || w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("got %d Retry-After %q: %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if w.Header().Get("WWW-Authenticate") != "" || strings.Contains(w.Body.String(), down.URL) ||
		!strings.Contains(w.Body.String(), "correlation_id") {
		t.Fatalf("503 body/header: %v %s", w.Header(), w.Body)
	}
}

func TestAuthHandlerProvisionRefusesBadConfig(t *testing.T) {
	for _, h := range []AuthHandler{
		{Issuers: []string{"https://auth.example.com"}},
		{Resource: "mcp.example.com/mcp", Issuers: []string{"https://auth.example.com"}},
		{Resource: authResource},
		{Resource: authResource, Issuers: []string{"https://auth.example.com"}, HideUnauthorized: true}, // no scope rule to hide by
	} {
		ctx, cancel := caddy.NewContext(configContext(t))
		err := h.Provision(ctx)
		cancel()
		if err == nil || !strings.HasPrefix(err.Error(), "mcp_auth: ") {
			t.Fatalf("%+v: err = %v", h, err)
		}
	}
}
