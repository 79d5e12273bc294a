package caddytest

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestLegacyGoSDKClient: the go-sdk's HTTP+SSE client (SSEClientTransport,
// the 2024-11-05 transport) with its default settings, which first probes
// with a 2026-07-28 server/discover POSTed to the session's endpoint, through
// one Caddy, through an instance of a cluster, and with its stream on one
// instance and its POSTs landing on the other. The session answers the probe
// -32601 and the client initializes at a 2025 revision. Failed before: the
// probe was read as a 2026-07-28 request, answered 400 ("2026-07-28 requests
// need the MCP-Protocol-Version header"), and the client gave up.
func TestLegacyGoSDKClient(t *testing.T) {
	requireIntegration(t)
	key := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("l", 32)))
	addrA, addrB := freeLoopbackAddr(t), freeLoopbackAddr(t)
	startStdioClusterInstance(t, key, addrA)
	startStdioClusterInstance(t, key, addrB)
	everything := nodeModule(t, "@modelcontextprotocol", "server-everything", "dist", "index.js")
	single := startProxy(t, fmt.Sprintf(siteAddr+" {\n\tbind 127.0.0.1\n\tmcp_proxy /mcp {\n\t\tstdio %s %s stdio\n\t}\n}\n",
		caddyfileQuote(node20(t)), caddyfileQuote(everything))) + "/mcp"
	for _, tc := range []struct {
		name, url string
		hc        *http.Client
	}{
		{"one instance", single, http.DefaultClient},
		{"a cluster's instance", "http://" + addrA + "/mcp", http.DefaultClient},
		{"stream on A, POSTs through B", "http://" + addrA + "/mcp", &http.Client{Transport: &twoInstances{begin: addrA, serve: addrB}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "caddytest-sse", Version: "0"}, nil).
				Connect(ctx, &mcp.SSEClientTransport{Endpoint: tc.url, HTTPClient: tc.hc}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			if v := cs.InitializeResult().ProtocolVersion; v >= "2026" || v == "" {
				t.Errorf("negotiated %q, want a session revision", v)
			}
			if got := callText(ctx, t, cs, "echo", map[string]any{"message": "old"}); got != "Echo: old" {
				t.Errorf("echo answered %q", got)
			}
		})
	}
}
