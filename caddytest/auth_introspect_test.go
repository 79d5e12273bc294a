package caddytest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestAuthIntrospection: an opaque token is checked at the authorization
// server's introspection endpoint (the gateway's secret from an
// environment placeholder) once for a whole go-sdk session; an unknown or
// revoked one gets the 401 invalid_token challenge.
func TestAuthIntrospection(t *testing.T) {
	as := startAuthServer(t)
	as.AddClient("gateway", "gateway-secret")
	t.Setenv("CADDYTEST_INTROSPECTION_SECRET", "gateway-secret")
	startProxy(t, authSiteWith(t, as.URL, `introspection_url `+as.URL+`/introspect {
			client_id gateway
			client_secret {env.CADDYTEST_INTROSPECTION_SECRET}
		}`, ""), goroutinesChecked)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	opaque := as.OpaqueToken("alice", authResource, time.Hour, authScope)
	cs := connectWithToken(ctx, t, opaque)
	for range 2 {
		if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: toolSimpleText}); got != simpleText {
			t.Fatalf("tools/call: %q", got)
		}
	}
	if err := cs.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if n := as.Introspections(); n != 1 {
		t.Fatalf("%d introspections for one session, want 1 (cached until expiry)", n)
	}

	for _, tc := range []struct{ name, token, want string }{
		{"unknown", "not-a-token-the-server-issued", "not active"},
		{"other audience", as.OpaqueToken("alice", "http://other.example/mcp", time.Hour, authScope), "audience does not include"},
		{"no scope", as.OpaqueToken("alice", authResource, time.Hour), "lacks the scope(s) " + authScope},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := authPost(ctx, t, authResource, "Bearer "+tc.token, "", authInitialize)
			wantStatus, wantHeader := 401, authChallenge+`, error="invalid_token"`
			if tc.name == "no scope" {
				wantStatus, wantHeader = 403, authChallenge+`, error="insufficient_scope"`
			}
			if resp.StatusCode != wantStatus || !strings.Contains(body, tc.want) ||
				!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), wantHeader) {
				t.Fatalf("%d %s %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
			}
		})
	}
}
