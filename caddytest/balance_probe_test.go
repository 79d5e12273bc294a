package caddytest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestDualEraClientsAlternate: round_robin over a stdio server of the 2025
// revisions (protocol legacy) and a go-sdk HTTP server with sessions (not
// 2026-stateless). go-sdk v1.8 clients probe with server/discover before
// they initialize; the probe takes no session's turn and is answered as a
// 2025-only endpoint's (so they fall back to 2025-11-25), and their
// sessions alternate between the two upstreams.
func TestDualEraClientsAlternate(t *testing.T) {
	bin := buildEverythingServer(t)
	b := startReplica(t, "B")
	url := startProxy(t, fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		stdio %s {
			name local
			protocol legacy
		}
		http %s {
			name remote
		}
		lb_policy round_robin
	}
}
`, caddyfileQuote(bin), caddyfileQuote(b.url()))) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var onB []bool
	for i := range 4 {
		client := mcp.NewClient(&mcp.Implementation{Name: "dual-era", Version: "0"}, nil)
		cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, nil)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		init := cs.InitializeResult()
		if init.ProtocolVersion != "2025-11-25" {
			t.Errorf("client %d negotiated %q, want the fallback to 2025-11-25", i, init.ProtocolVersion)
		}
		onB = append(onB, init.ServerInfo != nil && init.ServerInfo.Name == "B")
		if err := cs.Close(); err != nil {
			t.Errorf("client %d: closing: %v", i, err)
		}
	}
	for i := 1; i < len(onB); i++ {
		if onB[i] == onB[i-1] {
			t.Fatalf("sessions on B: %v; want them to alternate between the stdio server and B", onB)
		}
	}
}
