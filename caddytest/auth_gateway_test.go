package caddytest

import (
	"context"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestAuthGatewayBothSides: mcp_auth checking the client's opaque token
// by introspection, in front of an http upstream that gets the gateway's
// own token by client credentials — the client's token never goes
// upstream, the gateway's does. Validating and loading that config asks
// the authorization server nothing; one go-sdk session then costs one
// introspection and one token.
func TestAuthGatewayBothSides(t *testing.T) {
	requireIntegration(t)
	as := startAuthServer(t)
	as.AddClient("gateway", "gateway-secret", upstreamScope)
	upURL, seen := protectedUpstream(t, as)
	site := siteAddr + ` {
	bind 127.0.0.1
	mcp_auth {
		resource ` + authResource + `
		issuer ` + as.URL + `
		required_scopes ` + authScope + `
		introspection_url ` + as.URL + `/introspect {
			client_id gateway
			client_secret gateway-secret
		}
	}
	mcp_proxy /mcp {
		http ` + upURL + ` {
			auth client_credentials {
				token_url ` + as.URL + `/token
				client_id gateway
				client_secret gateway-secret
				scopes ` + upstreamScope + `
				resource ` + upURL + `
				auth_method client_secret_post
			}
		}
	}
}
`
	validateAndLoadOffline(t, site, as.Requests)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clientToken := as.OpaqueToken("alice", authResource, time.Hour, authScope)
	cs := connectWithToken(ctx, t, clientToken)
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "both sides"}})
	if err != nil || res.IsError {
		t.Fatalf("tools/call: %v %+v", err, res)
	}
	if err := cs.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if as.Introspections() != 1 || as.TokensIssued() != 1 || as.LastClientAuth() != "client_secret_post" {
		t.Fatalf("introspections %d, tokens %d (want 1 and 1), last client auth %s",
			as.Introspections(), as.TokensIssued(), as.LastClientAuth())
	}
	for _, a := range seen() {
		if a == "Bearer "+clientToken || a == "" {
			t.Fatalf("the upstream saw Authorization %q: want the gateway's token on every request, never the client's", a)
		}
	}
}
