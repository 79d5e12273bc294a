package caddytest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestGoClientRevisions connects the go-sdk v1.8 client through the proxy
// with its default protocol (2026-07-28: it probes with server/discover)
// and forced to each 2025 revision, over a stdio upstream (the proxy probes
// the server's era itself), a stdio upstream pinned to the legacy era (the
// client must fall back to initialize) and HTTP upstreams, and calls a tool
// each time.
func TestGoClientRevisions(t *testing.T) {
	bin := buildEverythingServer(t)
	sites := []struct {
		name, site, defaultVersion string
	}{
		{"stdio auto", stdioProxySite(bin), "2026-07-28"},
		{"stdio legacy", stdioProxySite(bin, "protocol legacy"), "2025-11-25"},
		// shared 0: no stateless serving over stdio, even for a server that
		// speaks 2026-07-28: the client falls back to a session.
		{"stdio shared 0", stdioProxySite(bin, "protocol modern", "shared 0"), "2025-11-25"},
		// In stateful mode the go-sdk server offers only the 2025
		// revisions to server/discover, so its clients fall back, through
		// the proxy as directly.
		{"http stateful", httpProxySite(startEverythingServer(t, true)), "2025-11-25"},
		{"http stateless", httpProxySite(startEverythingServer(t, false)), "2026-07-28"},
	}
	for _, site := range sites {
		t.Run(site.name, func(t *testing.T) {
			url := startProxy(t, site.site) + "/mcp"
			for _, tt := range []struct{ requested, want string }{
				{"", site.defaultVersion},
				{"2025-11-25", "2025-11-25"},
				{"2025-06-18", "2025-06-18"},
			} {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				var opts *mcp.ClientSessionOptions
				if tt.requested != "" {
					opts = &mcp.ClientSessionOptions{ProtocolVersion: tt.requested}
				}
				client := mcp.NewClient(&mcp.Implementation{Name: "caddytest-revisions", Version: "0"}, nil)
				cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, opts)
				if err != nil {
					t.Fatalf("connect (requested %q): %v", tt.requested, err)
				}
				if got := cs.InitializeResult().ProtocolVersion; got != tt.want {
					t.Errorf("requested %q: negotiated %q, want %q", tt.requested, got, tt.want)
				}
				if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: toolSimpleText}); got != simpleText {
					t.Errorf("requested %q: tools/call: %q", tt.requested, got)
				}
				_ = cs.Close()
			}
		})
	}
}

// TestDiscoverProbeAnswer shows the exact answers to a 2026-07-28 probe:
// from a route whose server speaks only the 2025 revisions, 400 with
// JSON-RPC -32601 and the request's id, which dual-era clients read as
// "legacy server, use initialize"; from a modern one, the server's
// DiscoverResult. Neither creates a session.
func TestDiscoverProbeAnswer(t *testing.T) {
	bin := buildEverythingServer(t)
	for _, tt := range []struct {
		protocol string
		status   int
		want     []string
	}{
		{"legacy", http.StatusBadRequest, []string{`"id":"probe-1"`, `"code":-32601`}},
		{"modern", http.StatusOK, []string{`"id":"probe-1"`, `"supportedVersions":["2026-07-28"`}},
	} {
		t.Run(tt.protocol, func(t *testing.T) {
			url := startProxy(t, stdioProxySite(bin, "protocol "+tt.protocol)) + "/mcp"
			req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(
				`{"jsonrpc":"2.0","id":"probe-1","method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
			req.Header.Set("Mcp-Method", "server/discover")
			resp, body := doRead(t, req)
			if resp.StatusCode != tt.status {
				t.Fatalf("probe answer: %d %s", resp.StatusCode, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("probe answer lacks %s: %s", w, body)
				}
			}
			if resp.Header.Get("Mcp-Session-Id") != "" {
				t.Error("a probe must not create a session")
			}
		})
	}
}

// TestBatch20250326 sends a 2025-03-26 batch of two requests and a
// notification through the proxy and gets both responses; the same batch
// at 2025-06-18 is refused.
func TestBatch20250326(t *testing.T) {
	bin := buildEverythingServer(t)
	url := startProxy(t, stdioProxySite(bin)) + "/mcp"
	c := testClient(30 * time.Second)
	resp, body := mcpPostVersion(t, c, url, "", "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"batch","version":"1"}}}`)
	id := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"2025-03-26"`) {
		t.Fatalf("initialize at 2025-03-26: %d %s", resp.StatusCode, body)
	}
	batch := `[{"jsonrpc":"2.0","method":"notifications/initialized"},` +
		`{"jsonrpc":"2.0","id":"a","method":"tools/list"},` +
		`{"jsonrpc":"2.0","id":"b","method":"tools/call","params":{"name":"` + toolSimpleText + `","arguments":{}}}]`
	resp, body = mcpPostVersion(t, c, url, id, "2025-03-26", batch)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("batch: %d %s", resp.StatusCode, body)
	}
	for _, want := range []string{`"id":"a","result":{`, `"id":"b","result":{`, simpleText} {
		if !strings.Contains(body, want) {
			t.Errorf("batch answer lacks %q:\n%s", want, body)
		}
	}
	resp, body = mcpPostVersion(t, c, url, id, "2025-06-18", `[{"jsonrpc":"2.0","id":"c","method":"ping"}]`)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "batches") {
		t.Errorf("a batch at 2025-06-18: %d %s", resp.StatusCode, body)
	}
}

func doRead(t testing.TB, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := testClient(30 * time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp, readAll(t, resp)
}
