package caddytest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestLegacySSEUpstream puts mcp_proxy in front of the go-sdk's 2024-11-05
// HTTP+SSE server, with `transport sse` and with the default (auto), and
// drives it with the go-sdk Streamable HTTP client: at 2025-11-25, and at
// its default (2026-07-28: the proxy answers its server/discover probe as a
// legacy-only server, and it falls back to initialize). Each session lists
// and calls tools; closing it (DELETE) ends the upstream SSE session.
func TestLegacySSEUpstream(t *testing.T) {
	requireIntegration(t)
	srv := newEchoServer("caddytest-legacy-sse")
	var upLog requestLog
	up := httptest.NewServer(upLog.wrap(mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return srv }, nil)))
	t.Cleanup(up.Close)

	for _, tc := range []struct {
		name    string
		options []string
		probes  int // Streamable HTTP POSTs of initialize the upstream sees
	}{
		{"transport sse", []string{"transport sse"}, 0},
		// auto: the first initialize is refused (the SSE handler answers
		// 400 to a POST without its session id), later ones go straight
		// to HTTP+SSE.
		{"auto", nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			upLog.reset()
			url := startProxy(t, httpProxySite(up.URL+"/sse", tc.options...), goroutinesChecked) + "/mcp"
			for _, version := range []string{"2025-11-25", ""} {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				var opts *mcp.ClientSessionOptions
				if version != "" {
					opts = &mcp.ClientSessionOptions{ProtocolVersion: version}
				}
				client := mcp.NewClient(&mcp.Implementation{Name: "caddytest-legacy-upstream", Version: "0"}, nil)
				cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, opts)
				if err != nil {
					t.Fatalf("connect (protocol %q): %v", version, err)
				}
				if got := cs.InitializeResult().ProtocolVersion; got != "2025-11-25" {
					t.Errorf("protocol %q: negotiated %q, want 2025-11-25", version, got)
				}
				if name := cs.InitializeResult().ServerInfo.Name; name != "caddytest-legacy-sse" {
					t.Errorf("server name %q", name)
				}
				tools, err := cs.ListTools(ctx, nil)
				if err != nil {
					t.Fatalf("tools/list: %v", err)
				}
				if len(tools.Tools) != 1 || tools.Tools[0].Name != "echo" {
					t.Fatalf("tools/list: %+v", tools.Tools)
				}
				const text = "hello through the proxy to HTTP+SSE"
				if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": text}}); got != text {
					t.Fatalf("tools/call: %q", got)
				}
				if n := sessionCount(srv); n != 1 {
					t.Errorf("the upstream has %d sessions, want 1", n)
				}
				if err := cs.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
				waitUntil(t, 5*time.Second, "the upstream SSE session ended", func() bool { return sessionCount(srv) == 0 })
			}

			var initializes, discovers, gets int
			var methods []string
			for _, r := range upLog.requests("") {
				methods = append(methods, r.Method)
				switch {
				case r.Method == http.MethodGet:
					gets++
				case r.Method == http.MethodDelete:
					t.Errorf("the upstream got a DELETE; 2024-11-05 has none")
				case strings.Contains(r.Body, `"method":"initialize"`):
					initializes++
				case strings.Contains(r.Body, `"method":"server/discover"`):
					discovers++
				}
				if r.Header.Get("Mcp-Session-Id") != "" {
					t.Errorf("%s carried Mcp-Session-Id to an HTTP+SSE server", r.Method)
				}
			}
			// Each of the two sessions sent initialize once over HTTP+SSE;
			// auto adds its one probe. The default client's probe never
			// reaches the upstream: the proxy knows it is legacy-only.
			if initializes != 2+tc.probes || discovers != 0 || gets != 2 {
				t.Errorf("the upstream saw %d initialize POSTs (want %d), %d server/discover POSTs (want 0) and %d SSE GETs (want 2): %v",
					initializes, 2+tc.probes, discovers, gets, methods)
			}
		})
	}
}
