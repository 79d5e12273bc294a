package caddytest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Per-tool scopes, CORS and the authorization server metadata on the MCP
// origin, through a real Caddy with the authtest authorization server.

const (
	progressScope  = "mcp:progress"
	inspectorTest  = "http://inspector.test"
	scopedNeedBoth = authScope + " " + progressScope
)

// authSiteWith is authSite with more mcp_auth settings and mcp_proxy
// options.
func authSiteWith(t *testing.T, issuer, authExtra, proxyExtra string) string {
	return siteAddr + ` {
	bind 127.0.0.1
	mcp_auth {
		resource ` + authResource + `
		issuer ` + issuer + `
		scopes_supported ` + authScope + ` ` + progressScope + `
		required_scopes ` + authScope + `
		` + authExtra + `
	}
	mcp_proxy /mcp {
		stdio ` + caddyfileQuote(buildEverythingServer(t)) + `
		` + proxyExtra + `
	}
}
`
}

// TestAuthScopePerTool: a tool with a scope of its own is refused (403,
// the challenge naming every scope the call needs) to a token without
// it, while the session goes on; a token of the same user with the scope
// (the step-up) calls it on the same session.
func TestAuthScopePerTool(t *testing.T) {
	as := startAuthServer(t)
	startProxy(t, authSiteWith(t, as.URL, "scope "+progressScope+" {\n\t\t\ttool "+toolProgress+"\n\t\t}", ""), goroutinesChecked)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok := func(scopes ...string) string {
		s, err := as.Token("alice", authResource, time.Hour, scopes...)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + s
	}
	narrow, wide := tok(authScope), tok(authScope, progressScope)

	resp, body := authPost(ctx, t, authResource, narrow, "", authInitialize)
	session := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != 200 || session == "" {
		t.Fatalf("initialize: %d %s", resp.StatusCode, body)
	}
	if resp, body := authPost(ctx, t, authResource, narrow, session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); resp.StatusCode != 202 {
		t.Fatalf("initialized: %d %s", resp.StatusCode, body)
	}
	progressCall := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"` + toolProgress + `","arguments":{}}}`
	for _, tc := range []struct {
		name, auth, call string
		wantStatus       int
		wantHeader       string
		wantBody         string
	}{
		{"plain tool, narrow token", narrow, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"` + toolSimpleText + `"}}`, 200, "", simpleText},
		{"scoped tool, narrow token", narrow, progressCall, 403,
			`Bearer resource_metadata="` + authMetadataURL + `", scope="` + scopedNeedBoth + `", error="insufficient_scope"`, "lacks the scope(s) " + progressScope},
		{"scoped tool, no token", "", progressCall, 401,
			`Bearer resource_metadata="` + authMetadataURL + `", scope="` + scopedNeedBoth + `"`, "needs an OAuth access token"},
		{"scoped tool, stepped-up token", wide, progressCall, 200, "", `"result"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := authPost(ctx, t, authResource, tc.auth, session, tc.call)
			if resp.StatusCode != tc.wantStatus || !strings.Contains(body, tc.wantBody) {
				t.Fatalf("%d %s, want %d with %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tc.wantHeader {
				t.Fatalf("WWW-Authenticate:\n got %s\nwant %s", got, tc.wantHeader)
			}
		})
	}

	// The go-sdk client with the narrow token: the plain tool works, the
	// scoped one fails with the 403 (go-sdk v1.8.0 then closes its
	// session: it has no step-up; the raw client above shows the session
	// itself survives).
	cs := connectWithToken(ctx, t, strings.TrimPrefix(narrow, "Bearer "))
	defer cs.Close()
	if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: toolSimpleText}); got != simpleText {
		t.Fatalf("plain tool: %q", got)
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: toolProgress}); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Fatalf("scoped tool with the narrow token: err %v, want the 403 (Forbidden)", err)
	}

}

// TestAuthCORSThroughCaddy: what a browser page on an allowed origin
// sees: the preflight answered without a token, the 401's challenge and
// the session id readable, and a preflight from another origin refused.
func TestAuthCORSThroughCaddy(t *testing.T) {
	as := startAuthServer(t)
	startProxy(t, authSiteWith(t, as.URL, "cors_origins "+inspectorTest, "allowed_origins "+inspectorTest), goroutinesChecked)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, http.MethodOptions, authResource, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,mcp-protocol-version")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := preflight(inspectorTest)
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != inspectorTest ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := preflight("http://evil.test"); resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin: %d %v", resp.StatusCode, resp.Header)
	}
	post := func(auth string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, authResource, strings.NewReader(authInitialize))
		req.Header.Set("Origin", inspectorTest)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	const expose = "Mcp-Session-Id, MCP-Protocol-Version, WWW-Authenticate"
	if resp := post(""); resp.StatusCode != 401 || resp.Header.Get("Access-Control-Allow-Origin") != inspectorTest ||
		resp.Header.Get("Access-Control-Expose-Headers") != expose {
		t.Fatalf("401 to the page: %d %v", resp.StatusCode, resp.Header)
	}
	resp = post("Bearer " + clientCredentialsToken(t, as, "alice", "alice-secret"))
	if resp.StatusCode != 200 || resp.Header.Get("Mcp-Session-Id") == "" ||
		resp.Header.Get("Access-Control-Allow-Origin") != inspectorTest || resp.Header.Get("Access-Control-Expose-Headers") != expose {
		t.Fatalf("initialize from the page: %d %v", resp.StatusCode, resp.Header)
	}
	endSession(ctx, t, "Bearer "+clientCredentialsToken(t, as, "alice", "alice-secret"), resp.Header.Get("Mcp-Session-Id"))
}

// endSession DELETEs a session.
func endSession(ctx context.Context, t *testing.T, auth, session string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, authResource, nil)
	req.Header.Set("Authorization", auth)
	req.Header.Set("Mcp-Session-Id", session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// TestAuthServerMetadataOnMCPOrigin: a 2025-03-26 client looks for the
// authorization server's metadata on the MCP origin and finds the
// issuer's own document there.
func TestAuthServerMetadataOnMCPOrigin(t *testing.T) {
	as := startAuthServer(t)
	startProxy(t, authSite(t, as.URL), goroutinesChecked)
	resp, err := http.Get(proxyBaseURL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var meta struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil || resp.StatusCode != 200 ||
		meta.Issuer != as.URL || meta.TokenEndpoint != as.URL+"/token" {
		t.Fatalf("%d %+v %v", resp.StatusCode, meta, err)
	}
}
