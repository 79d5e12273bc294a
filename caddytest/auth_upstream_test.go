package caddytest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/oauth"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/oauth/authtest"
)

const upstreamScope = "upstream:call"

// protectedUpstream is a go-sdk MCP server behind the go-sdk's own
// RequireBearerToken: a token must verify against the authorization
// server's keys, name the upstream as audience and grant upstreamScope.
func protectedUpstream(t *testing.T, as *authtest.Server) (url string, seen func() []string) {
	t.Helper()
	var log requestLog
	srv := httptest.NewUnstartedServer(nil)
	resource := "http://" + srv.Listener.Addr().String() + "/mcp"
	v, err := oauth.NewValidator(oauth.Config{Resource: resource, Issuers: []string{as.URL}})
	if err != nil {
		t.Fatal(err)
	}
	verify := func(ctx context.Context, token string, _ *http.Request) (*sdkauth.TokenInfo, error) {
		c, err := v.Validate(ctx, token)
		if err != nil {
			return nil, errors.Join(sdkauth.ErrInvalidToken, err)
		}
		return &sdkauth.TokenInfo{Scopes: c.Scopes, Expiration: c.Expiry, UserID: c.Subject}, nil
	}
	guard := sdkauth.RequireBearerToken(verify, &sdkauth.RequireBearerTokenOptions{Scopes: []string{upstreamScope}})
	srv.Config.Handler = log.wrap(guard(goSDKHandler(newEchoServer("caddytest-protected"))))
	srv.Start()
	t.Cleanup(srv.Close)
	return resource, func() []string {
		var auths []string
		for _, r := range log.requests("") {
			auths = append(auths, r.Header.Get("Authorization"))
		}
		return auths
	}
}

// TestHTTPUpstreamClientCredentials: mcp_proxy gets its own token for a
// protected go-sdk upstream by client credentials (secret from an
// environment placeholder), once for many requests, and sends it with
// every one; with a wrong secret the client's initialize gets a JSON-RPC
// error (gateway status 502) that says why without naming any URL.
func TestHTTPUpstreamClientCredentials(t *testing.T) {
	requireIntegration(t)
	as := startAuthServer(t)
	as.AddClient("gateway", "gateway-secret", upstreamScope)
	upURL, seen := protectedUpstream(t, as)
	t.Setenv("CADDYTEST_GATEWAY_SECRET", "gateway-secret")
	site := func(secret string) string {
		return httpProxySite(upURL, `auth client_credentials {
				token_url `+as.URL+`/token
				client_id gateway
				client_secret `+secret+`
				scopes `+upstreamScope+`
				resource `+upURL+`
			}`)
	}

	t.Run("token obtained and sent", func(t *testing.T) {
		url := startProxy(t, site("{env.CADDYTEST_GATEWAY_SECRET}"), goroutinesChecked) + "/mcp"
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "caddytest", Version: "0"}, nil).Connect(ctx,
			&mcp.StreamableClientTransport{Endpoint: url}, &mcp.ClientSessionOptions{ProtocolVersion: interopProtocol})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hi"}})
			if err != nil || res.IsError {
				t.Fatalf("call %d: %v %+v", i, err, res)
			}
		}
		if err := cs.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		auths := seen()
		if len(auths) < 5 {
			t.Fatalf("the upstream saw %d requests", len(auths))
		}
		for _, a := range auths {
			if a != auths[0] || !strings.HasPrefix(a, "Bearer ") {
				t.Fatalf("the upstream saw Authorization %q, want the same bearer token on every request: %q", a, auths)
			}
		}
		if as.TokensIssued() != 1 {
			t.Fatalf("%d tokens issued for one session, want 1", as.TokensIssued())
		}
	})

	t.Run("wrong secret", func(t *testing.T) {
		url := startProxy(t, site("wrong"), goroutinesChecked) + "/mcp"
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, body := authPost(ctx, t, url, "", "", authInitialize)
		// The front has opened its SSE answer by then: the failure is
		// the JSON-RPC error on it, with the gateway status in its data.
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"message":"upstream MCP server: it could not be reached (the gateway could not obtain its access token for it)`) ||
			!strings.Contains(body, `"status":502`) || strings.Contains(body, as.URL) || strings.Contains(body, "127.0.0.1") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
}
