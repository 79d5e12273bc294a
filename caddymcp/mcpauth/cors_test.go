package mcpauth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAuthCORS: a preflight from an allowed origin is answered without a
// token, to the resource and the metadata alike; the challenge of a real
// request is readable by the page; other origins get no CORS headers.
func TestAuthCORS(t *testing.T) {
	h := &AuthHandler{Resource: authResource, Issuers: []string{"https://auth.example.com"},
		CORSOrigins: []string{"https://inspector.example.com"}}
	provisionAuth(t, h)
	const allowed, other = "https://inspector.example.com", "https://evil.example.com"
	tests := []struct {
		name        string
		method      string
		path        string
		origin      string
		preflight   bool
		wantStatus  int
		wantAllowed string // Access-Control-Allow-Origin
	}{
		{"preflight to the resource", http.MethodOptions, "/mcp", allowed, true, 204, allowed},
		{"preflight to the metadata", http.MethodOptions, "/.well-known/oauth-protected-resource/mcp", allowed, true, 204, allowed},
		{"preflight from another origin", http.MethodOptions, "/mcp", other, true, 403, ""},
		{"POST without a token from the page", http.MethodPost, "/mcp", allowed, false, 401, allowed},
		{"POST from another origin", http.MethodPost, "/mcp", other, false, 401, ""},
		{"OPTIONS that is no preflight needs a token", http.MethodOptions, "/mcp", allowed, false, 401, allowed},
		{"metadata GET from the page", http.MethodGet, "/.well-known/oauth-protected-resource/mcp", allowed, false, 200, allowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(`{}`))
			r.Header.Set("Origin", tc.origin)
			if tc.preflight {
				r.Header.Set("Access-Control-Request-Method", "POST")
				r.Header.Set("Access-Control-Request-Headers", "authorization, content-type, mcp-protocol-version")
			}
			w, s := serveAuth(t, h, r)
			if s.called {
				t.Fatal("reached the next handler")
			}
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.wantStatus, w.Body)
			}
			hdr := w.Header()
			if got := hdr.Get("Access-Control-Allow-Origin"); got != tc.wantAllowed {
				t.Fatalf("Access-Control-Allow-Origin %q, want %q", got, tc.wantAllowed)
			}
			if !strings.Contains(strings.Join(hdr.Values("Vary"), ","), "Origin") {
				t.Fatalf("no Vary: Origin: %v", hdr)
			}
			if tc.wantAllowed == "" {
				if tc.preflight && !strings.Contains(w.Body.String(), "cors_origins") {
					t.Fatalf("refused preflight says %s, want it to name cors_origins", w.Body)
				}
				return
			}
			if got := hdr.Get("Access-Control-Expose-Headers"); got != "Mcp-Session-Id, MCP-Protocol-Version, WWW-Authenticate" {
				t.Fatalf("Access-Control-Expose-Headers %q", got)
			}
			if tc.preflight {
				if !strings.Contains(hdr.Get("Access-Control-Allow-Headers"), "Authorization") ||
					!strings.Contains(hdr.Get("Access-Control-Allow-Methods"), "POST") {
					t.Fatalf("preflight answer %v", hdr)
				}
			}
		})
	}
}

// TestAuthCORSAllowedResponsePassesHeaders: an admitted request from an
// allowed origin reaches the next handler with the CORS headers already
// on the response.
func TestAuthCORSAllowedResponsePassesHeaders(t *testing.T) {
	as := newAuthServer(t)
	h := &AuthHandler{Resource: authResource, Issuers: []string{as.URL}, CORSOrigins: []string{"*"}}
	provisionAuth(t, h)
	tok, err := as.Token("alice", authResource, 60e9)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(`{}`))
	r.Header.Set("Origin", "http://localhost:6274")
	r.Header.Set("Authorization", "Bearer "+tok)
	w, s := serveAuth(t, h, r)
	if !s.called || w.Header().Get("Access-Control-Allow-Origin") != "http://localhost:6274" ||
		!strings.Contains(w.Header().Get("Access-Control-Expose-Headers"), "Mcp-Session-Id") {
		t.Fatalf("called %v, headers %v", s.called, w.Header())
	}
}

func TestCheckCORSOrigins(t *testing.T) {
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"*", true}, {"https://a.example.com", true}, {"http://localhost:6274", true},
		{"https://a.example.com/", false}, {"a.example.com", false}, {"https://a.example.com/x", false}, {"ftp://a", false},
	} {
		if err := checkCORSOrigins([]string{tc.origin}); (err == nil) != tc.ok {
			t.Errorf("%q: err %v, want ok=%v", tc.origin, err, tc.ok)
		}
	}
}
