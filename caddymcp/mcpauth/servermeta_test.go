package mcpauth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestAuthServerMetadata: /.well-known/oauth-authorization-server on the
// MCP origin (where 2025-03-26 clients look) is the issuer's own RFC 8414
// document, fetched once; a 503 while the issuer is down.
func TestAuthServerMetadata(t *testing.T) {
	as := newAuthServer(t)
	h := &AuthHandler{Resource: authResource, Issuers: []string{as.URL}}
	provisionAuth(t, h)
	for range 2 {
		w, s := serveAuth(t, h, httptest.NewRequest(http.MethodGet, serverMetadataPath, nil))
		var meta struct {
			Issuer        string `json:"issuer"`
			TokenEndpoint string `json:"token_endpoint"`
		}
		if s.called || w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &meta) != nil ||
			meta.Issuer != as.URL || meta.TokenEndpoint != as.URL+"/token" {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	if n := as.Requests(); n != 1 {
		t.Fatalf("the issuer got %d requests for two answers, want 1 (cached)", n)
	}

	down := &AuthHandler{Resource: authResource, Issuers: []string{"http://127.0.0.1:1/realms/x"}}
	provisionAuth(t, down)
	w, _ := serveAuth(t, down, httptest.NewRequest(http.MethodGet, serverMetadataPath, nil))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("issuer down: %d %v %s", w.Code, w.Header(), w.Body)
	}
}

// TestAuthServerMetadataSameOrigin: when the issuer's RFC 8414 URL is
// this very path (the authorization server shares the origin), mcp_auth
// leaves it to the authorization server.
func TestAuthServerMetadataSameOrigin(t *testing.T) {
	h := &AuthHandler{Resource: authResource, Issuers: []string{"https://mcp.example.com"}}
	provisionAuth(t, h)
	_, s := serveAuth(t, h, httptest.NewRequest(http.MethodGet, serverMetadataPath, nil))
	if !s.called {
		t.Fatal("mcp_auth answered the issuer's own metadata URL")
	}
}
