package caddytest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestAuthTokenNeverPassedThrough: behind mcp_auth the client's token
// reaches no upstream — even one with pass_authorization, since mcp_auth
// removes the checked Authorization header — unless the operator opts in
// twice: keep_authorization in mcp_auth and pass_authorization in the
// upstream (outside the MCP specification, which forbids passthrough).
func TestAuthTokenNeverPassedThrough(t *testing.T) {
	as := startAuthServer(t)
	var upLog requestLog
	up := httptest.NewServer(upLog.wrap(goSDKHandler(newEchoServer("caddytest-auth-upstream"))))
	t.Cleanup(up.Close)
	for _, tc := range []struct {
		name      string
		keep      string
		wantToken bool
	}{
		{"stripped", "", false},
		{"keep_authorization", "keep_authorization", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			upLog.reset()
			site := fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_auth {
		resource %s
		issuer %s
		%s
	}
	mcp_proxy /mcp {
		http %s {
			pass_authorization
		}
	}
}
`, authResource, as.URL, tc.keep, caddyfileQuote(up.URL+"/mcp"))
			startProxy(t, site, goroutinesChecked)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			token := clientCredentialsToken(t, as, "alice", "alice-secret")
			cs := connectWithToken(ctx, t, token)
			if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hi"}}); got != "hi" {
				t.Fatalf("echo: %q", got)
			}
			if err := cs.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
			reqs := upLog.requests("")
			if len(reqs) < 3 {
				t.Fatalf("the upstream received %d requests, want initialize, initialized, tools/call at least", len(reqs))
			}
			for k, r := range reqs {
				got := r.Header.Get("Authorization")
				if tc.wantToken && got != "Bearer "+token {
					t.Errorf("upstream request %d (%s): Authorization %q, want the client's token", k, r.Method, got)
				}
				if !tc.wantToken && got != "" {
					t.Errorf("upstream request %d (%s): the client's Authorization reached the upstream", k, r.Method)
				}
			}
		})
	}
}
