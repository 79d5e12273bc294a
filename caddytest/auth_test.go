package caddytest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/oauth/authtest"
)

// These tests put mcp_auth in front of mcp_proxy in a real Caddy, with a
// real authorization server (authtest: RFC 8414 metadata, JWKS,
// client_credentials) and real MCP clients.

var (
	authResource    = proxyBaseURL + "/mcp"
	authMetadataURL = proxyBaseURL + "/.well-known/oauth-protected-resource/mcp"
)

const authScope = "mcp:tools"

// authChallenge is the WWW-Authenticate of a request without a token.
var authChallenge = `Bearer resource_metadata="` + authMetadataURL + `", scope="` + authScope + `"`

// startAuthServer starts the authorization server with two clients,
// alice and bob, granted authScope.
func startAuthServer(t *testing.T) *authtest.Server {
	t.Helper()
	as, err := authtest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(as.Close)
	as.AddClient("alice", "alice-secret", authScope)
	as.AddClient("bob", "bob-secret", authScope)
	return as
}

// authSite is the site block: mcp_auth guarding /mcp, where mcp_proxy
// serves the go-sdk everything-server over stdio.
func authSite(t *testing.T, issuer string) string {
	return siteAddr + ` {
	bind 127.0.0.1
	mcp_auth {
		resource ` + authResource + `
		issuer ` + issuer + `
		scopes_supported ` + authScope + `
		required_scopes ` + authScope + `
	}
	mcp_proxy /mcp {
		stdio ` + caddyfileQuote(buildEverythingServer(t)) + `
	}
}
`
}

// clientCredentialsToken gets a token for the resource from the token
// endpoint, as a confidential client does (RFC 6749 §4.4, RFC 8707).
func clientCredentialsToken(t *testing.T, as *authtest.Server, id, secret string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {authResource}, "scope": {authScope}}
	req, err := http.NewRequest(http.MethodPost, as.URL+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("token endpoint: %d %v", resp.StatusCode, err)
	}
	return tok.AccessToken
}

// bearerTransport adds a bearer token to every request.
type bearerTransport struct {
	token string
	base  http.RoundTripper
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// connectWithToken connects the go-sdk client with token.
func connectWithToken(ctx context.Context, t *testing.T, token string) *mcp.ClientSession {
	t.Helper()
	transport := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(transport.CloseIdleConnections)
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "caddytest-auth", Version: "0"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: authResource,
			HTTPClient: &http.Client{Transport: bearerTransport{token: token, base: transport}}},
		&mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatalf("connect with a bearer token: %v", err)
	}
	return cs
}

// TestAuthGoClientBearer: the go-sdk client with a client_credentials
// token completes a session through mcp_auth and calls a tool.
func TestAuthGoClientBearer(t *testing.T) {
	as := startAuthServer(t)
	startProxy(t, authSite(t, as.URL), goroutinesChecked)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs := connectWithToken(ctx, t, clientCredentialsToken(t, as, "alice", "alice-secret"))
	if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: toolSimpleText}); got == "" {
		t.Fatal("tools/call returned no text")
	}
	if err := cs.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

const authInitialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`

// TestAuthRefusals: what a client sees for each kind of refused token, at
// the HTTP level, through Caddy; and the metadata the challenge points at.
func TestAuthRefusals(t *testing.T) {
	as := startAuthServer(t)
	// The issuer also publishes a key the gateway cannot read: it is
	// skipped, and every answer below is the token's, not a 503.
	as.PublishRawJWK(`{"kty":"OKP","crv":"X448","kid":"x448","x":"` + strings.Repeat("A", 75) + `"}`)
	startProxy(t, authSite(t, as.URL), goroutinesChecked)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sign := func(claims map[string]any) string {
		tok, err := as.Sign(claims)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := time.Now().Unix()
	claims := func(k string, v any) map[string]any {
		c := map[string]any{"iss": as.URL, "sub": "alice", "aud": authResource, "exp": now + 600, "scope": authScope}
		c[k] = v
		return c
	}
	enc := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(claims("sub", "alice"))
	unsigned := enc([]byte(`{"alg":"none"}`)) + "." + enc(payload) + "."
	valid := sign(claims("sub", "alice"))
	badSig := valid[:len(valid)-4] + "AAAA"
	invalidToken := authChallenge + `, error="invalid_token"`
	tests := []struct {
		name       string
		target     string
		auth       string
		wantStatus int
		wantHeader string
		wantBody   string
	}{
		{"no token", authResource, "", 401, authChallenge, "needs an OAuth access token"},
		{"expired", authResource, "Bearer " + sign(claims("exp", now-600)), 401, invalidToken, "expired"},
		{"wrong audience", authResource, "Bearer " + sign(claims("aud", "http://other.example/mcp")), 401, invalidToken, "audience"},
		{"wrong issuer", authResource, "Bearer " + sign(claims("iss", "https://evil.example")), 401, invalidToken, "not accepted"},
		{"alg none", authResource, "Bearer " + unsigned, 401, invalidToken, "not a JWT signed with"},
		{"bad signature", authResource, "Bearer " + badSig, 401, invalidToken, "signature does not verify"},
		{"no sub", authResource, "Bearer " + sign(claims("sub", nil)), 401, invalidToken, "no subject"},
		{"no scope", authResource, "Bearer " + sign(claims("scope", "other")), 403,
			authChallenge + `, error="insufficient_scope"`, "lacks the scope(s) " + authScope},
		{"token in the query", authResource + "?access_token=" + valid, "", 400,
			authChallenge + `, error="invalid_request"`, "query string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := authPost(ctx, t, tc.target, tc.auth, "", authInitialize)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			got := resp.Header.Get("WWW-Authenticate")
			if got != tc.wantHeader && !strings.HasPrefix(got, tc.wantHeader+", error_description=") {
				t.Fatalf("WWW-Authenticate:\n got %s\nwant %s", got, tc.wantHeader)
			}
			if !strings.Contains(body, `"jsonrpc":"2.0"`) || !strings.Contains(body, tc.wantBody) {
				t.Fatalf("body %s, want a JSON-RPC error saying %q", body, tc.wantBody)
			}
		})
	}
	t.Run("metadata", func(t *testing.T) {
		resp, err := http.Get(authMetadataURL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var meta struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
			ScopesSupported      []string `json:"scopes_supported"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil || resp.StatusCode != 200 {
			t.Fatalf("metadata: %d %v", resp.StatusCode, err)
		}
		if meta.Resource != authResource || len(meta.AuthorizationServers) != 1 || meta.AuthorizationServers[0] != as.URL ||
			len(meta.ScopesSupported) != 1 || meta.ScopesSupported[0] != authScope {
			t.Fatalf("metadata %+v", meta)
		}
	})
}

// TestAuthSessionBoundToUser: a session created with alice's token cannot
// be used with bob's (front refuses a session presented by another
// user), while alice keeps using it.
func TestAuthSessionBoundToUser(t *testing.T) {
	as := startAuthServer(t)
	startProxy(t, authSite(t, as.URL), goroutinesChecked)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice := "Bearer " + clientCredentialsToken(t, as, "alice", "alice-secret")
	bob := "Bearer " + clientCredentialsToken(t, as, "bob", "bob-secret")
	resp, body := authPost(ctx, t, authResource, alice, "", authInitialize)
	session := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != 200 || session == "" {
		t.Fatalf("initialize: %d %s", resp.StatusCode, body)
	}
	const list = `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	if resp, body := authPost(ctx, t, authResource, bob, session, list); resp.StatusCode != http.StatusForbidden ||
		!strings.Contains(body, "another user") {
		t.Fatalf("bob on alice's session: %d %s", resp.StatusCode, body)
	}
	if resp, body := authPost(ctx, t, authResource, alice, session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("alice's initialized: %d %s", resp.StatusCode, body)
	}
	if resp, body := authPost(ctx, t, authResource, alice, session, list); resp.StatusCode != 200 ||
		!strings.Contains(body, toolSimpleText) {
		t.Fatalf("alice on her session: %d %s", resp.StatusCode, body)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, authResource, nil)
	req.Header.Set("Authorization", alice)
	req.Header.Set("Mcp-Session-Id", session)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
}
