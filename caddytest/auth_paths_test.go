package caddytest

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/oauth/authtest"
)

// Every spelling of the guarded path that Caddy's path matcher routes to
// mcp_proxy (it lowercases and cleans) must meet mcp_auth: none may open a
// session, use one, call a tool statelessly or open a 2024-11-05 stream
// without a token.

// pathSpellings are request paths that Caddy folds to /mcp (or below it),
// sent as written (no client-side cleaning).
var pathSpellings = []string{
	"/mcp", "/MCP", "/Mcp", "//mcp", "/./mcp", "/x/../mcp", "/mcp/", "/MCP/",
	"/%6Dcp", "/%6dCP", "/%2Fmcp", "/mcp%2F", "/mcp/.", "/./MCP/",
}

// rawTarget is the proxy URL with path exactly as written.
func rawTarget(t *testing.T, path string) string {
	t.Helper()
	u, err := url.Parse(proxyBaseURL + path)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.RequestURI(); got != path {
		t.Fatalf("the client would send %q, not %q", got, path)
	}
	return u.String()
}

// unauthenticatedAttempts are the requests a client without a token makes
// on a path: a 2025 initialize, a tools/call on an existing session (id), a
// 2026-07-28 stateless tools/call, and a 2024-11-05 GET.
func unauthenticatedAttempts(ctx context.Context, t *testing.T, target, session string) map[string]*http.Request {
	t.Helper()
	post := func(body string, header map[string]string) *http.Request {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		return req
	}
	get, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	get.Header.Set("Accept", "text/event-stream")
	return map[string]*http.Request{
		"initialize": post(authInitialize, map[string]string{"MCP-Protocol-Version": "2025-11-25"}),
		"session call": post(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"`+toolSimpleText+`","arguments":{}}}`,
			map[string]string{"MCP-Protocol-Version": "2025-11-25", "Mcp-Session-Id": session}),
		"stateless call": post(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"`+toolSimpleText+`","arguments":{},`+
			`"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`,
			map[string]string{"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": toolSimpleText}),
		"2024-11-05 GET": get,
	}
}

// doFresh sends req on a connection of its own (no keep-alive shared with
// another config load) and reads the answer.
func doFresh(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp, readAll(t, resp)
}

// TestAuthPathSpellings: with the README's pattern (mcp_auth for …/mcp at
// the site, mcp_proxy /mcp), every spelling of the path gets 401 without a
// token — for each kind of request — and the canonical one still works with
// one.
func TestAuthPathSpellings(t *testing.T) {
	as := startAuthServer(t)
	startProxy(t, authSite(t, as.URL), goroutinesChecked)
	checkSpellingsRefused(t, as)
}

// TestAuthPathSpellingsInHandle is the same with mcp_auth and mcp_proxy
// inside a handle block among other handlers.
func TestAuthPathSpellingsInHandle(t *testing.T) {
	as := startAuthServer(t)
	startProxy(t, siteAddr+` {
	bind 127.0.0.1
	handle /health {
		respond "ok"
	}
	handle /mcp* {
		header X-Gateway caddy-mcp
		mcp_auth {
			resource `+authResource+`
			issuer `+as.URL+`
			required_scopes `+authScope+`
		}
		mcp_proxy {
			stdio `+caddyfileQuote(buildEverythingServer(t))+`
		}
	}
}
`, goroutinesChecked)
	checkSpellingsRefused(t, as)
}

// checkSpellingsRefused opens a session with a token on the canonical path,
// then makes every unauthenticated attempt on every spelling.
func checkSpellingsRefused(t *testing.T, as *authtest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	token := clientCredentialsToken(t, as, "alice", "alice-secret")
	resp, body := authPost(ctx, t, authResource, "Bearer "+token, "", authInitialize)
	session := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != http.StatusOK || session == "" {
		t.Fatalf("initialize with a token: %d %s", resp.StatusCode, body)
	}
	for _, path := range pathSpellings {
		for kind, req := range unauthenticatedAttempts(ctx, t, rawTarget(t, path), session) {
			resp, body := doFresh(t, req)
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Mcp-Session-Id") != "" ||
				!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer resource_metadata=") {
				t.Errorf("%s %s without a token: %d (session %q) %s", kind, path, resp.StatusCode,
					resp.Header.Get("Mcp-Session-Id"), body)
			}
		}
	}
}

// TestAuthSkippedByRouteOrder: a route that puts mcp_proxy before mcp_auth
// lets no request reach the upstream unjudged — mcp_proxy itself refuses a
// request for the resource mcp_auth guards that did not pass it, token or
// not, and says why in the log.
func TestAuthSkippedByRouteOrder(t *testing.T) {
	as := startAuthServer(t)
	startProxy(t, siteAddr+` {
	bind 127.0.0.1
	route {
		mcp_proxy /mcp {
			stdio `+caddyfileQuote(buildEverythingServer(t))+`
		}
		mcp_auth {
			resource `+authResource+`
			issuer `+as.URL+`
			required_scopes `+authScope+`
		}
	}
}
`, goroutinesChecked)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	token := clientCredentialsToken(t, as, "alice", "alice-secret")
	for _, auth := range []string{"", "Bearer " + token} {
		for _, path := range []string{"/mcp", "/MCP"} {
			resp, body := authPost(ctx, t, rawTarget(t, path), auth, "", authInitialize)
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Mcp-Session-Id") != "" ||
				!strings.Contains(body, "did not pass the endpoint's authorization (mcp_auth)") {
				t.Errorf("initialize on %s (token %v) with mcp_proxy before mcp_auth: %d %s", path, auth != "", resp.StatusCode, body)
			}
		}
	}
}

// TestSessionBoundToEndpoint: two mcp_proxy routes in front of the same
// server, one with a tool filter: a session minted on the open route is
// unknown (404) on the filtered one, and the other way round.
func TestSessionBoundToEndpoint(t *testing.T) {
	bin := caddyfileQuote(buildEverythingServer(t))
	startProxy(t, siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /open {
		stdio `+bin+`
	}
	mcp_proxy /strict {
		stdio `+bin+`
		tools {
			deny `+toolSimpleText+`
		}
	}
}
`, goroutinesChecked)
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	call := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"` + toolSimpleText + `","arguments":{}}}`
	for _, tt := range []struct{ minted, used string }{{"/open", "/strict"}, {"/strict", "/open"}} {
		id := openSession(t, c, proxyBaseURL+tt.minted)
		if resp, body := mcpPost(t, c, proxyBaseURL+tt.used, id, call); resp.StatusCode != http.StatusNotFound {
			t.Errorf("a session minted on %s used on %s: %d %s, want 404", tt.minted, tt.used, resp.StatusCode, body)
		}
		if resp, body := mcpPost(t, c, proxyBaseURL+tt.minted, id, `{"jsonrpc":"2.0","id":3,"method":"ping"}`); resp.StatusCode != http.StatusOK {
			t.Errorf("the session on %s where it was minted: %d %s", tt.minted, resp.StatusCode, body)
		}
	}
}
