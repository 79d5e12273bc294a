package remote

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// TestHTTPPassAuthorizationPerRequest: with PassAuthorization, each request
// of one session reaches a real go-sdk server with the Authorization of the
// client request it serves, not the one the session was opened with; without
// it the client's never travels.
func TestHTTPPassAuthorizationPerRequest(t *testing.T) {
	for _, pass := range []bool{true, false} {
		t.Run(map[bool]string{true: "pass_authorization", false: "off"}[pass], func(t *testing.T) {
			p, _ := startGoSDKPeer(t, nil)
			h := newTestHTTP(t, Config{
				URL: p.srv.URL + "/mcp",
				// As the Caddy layer does: header_up evaluated at initialize.
				Headers: func(context.Context) http.Header {
					return http.Header{"Authorization": {"Bearer configured"}}
				},
				PassAuthorization: pass,
			})
			rec := newHTTPRecorder()
			c := openConn(t, h, rec)
			sendAs := func(auth, raw string) {
				t.Helper()
				if err := c.Send(upstream.WithClientAuthorization(context.Background(), auth), mustParse(t, raw)); err != nil {
					t.Fatalf("Send(%s): %v", raw, err)
				}
			}
			sendAs("Bearer at-initialize", initializeMsg(`"init-1"`, "2025-11-25"))
			rec.response(t, `"init-1"`)
			sendAs("Bearer at-initialize", initializedMsg)
			sendAs("Bearer token-one", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"a"}}}`)
			rec.response(t, "1")
			sendAs("Bearer token-two", `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"b"}}}`)
			rec.response(t, "2")
			sendAs("", `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"c"}}}`)
			rec.response(t, "3")

			want := map[string]string{
				`"init-1"`: "Bearer at-initialize", "1": "Bearer token-one", "2": "Bearer token-two",
				// A request without one keeps the configured header.
				"3": "Bearer configured",
			}
			if !pass {
				want = map[string]string{`"init-1"`: "Bearer configured", "1": "Bearer configured", "2": "Bearer configured", "3": "Bearer configured"}
			}
			seen := map[string]string{}
			for _, r := range p.requests(http.MethodPost) {
				for id := range want {
					if strings.Contains(r.body, `"id":`+id+`,`) {
						seen[id] = r.header.Get("Authorization")
					}
				}
			}
			for id, auth := range want {
				if seen[id] != auth {
					t.Errorf("request %s reached the server with Authorization %q, want %q", id, seen[id], auth)
				}
			}
		})
	}
}
