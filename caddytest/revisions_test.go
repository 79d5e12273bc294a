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
// with its default protocol (2026-07-28: it probes with server/discover and
// must fall back to initialize) and forced to each 2025 revision, and calls
// a tool each time.
func TestGoClientRevisions(t *testing.T) {
	bin := buildEverythingServer(t)
	url := startProxy(t, stdioProxySite(bin)) + "/mcp"
	tests := []struct {
		name      string
		requested string // "" = the client's default
		want      string // negotiated
	}{
		{"default falls back from 2026-07-28", "", "2025-11-25"},
		{"2025-11-25", "2025-11-25", "2025-11-25"},
		{"2025-06-18", "2025-06-18", "2025-06-18"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var opts *mcp.ClientSessionOptions
			if tt.requested != "" {
				opts = &mcp.ClientSessionOptions{ProtocolVersion: tt.requested}
			}
			client := mcp.NewClient(&mcp.Implementation{Name: "caddytest-revisions", Version: "0"}, nil)
			cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, opts)
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer cs.Close()
			if got := cs.InitializeResult().ProtocolVersion; got != tt.want {
				t.Errorf("negotiated %q, want %q", got, tt.want)
			}
			if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: toolSimpleText}); got != simpleText {
				t.Errorf("tools/call: %q", got)
			}
		})
	}
}

// TestDiscoverProbeAnswer shows the exact answer a 2026-07-28 probe gets:
// 400 with JSON-RPC -32601 and the request's id, which dual-era clients
// read as "legacy server, use initialize".
func TestDiscoverProbeAnswer(t *testing.T) {
	bin := buildEverythingServer(t)
	url := startProxy(t, stdioProxySite(bin)) + "/mcp"
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(
		`{"jsonrpc":"2.0","id":"probe-1","method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", "server/discover")
	resp, body := doRead(t, req)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"id":"probe-1"`) || !strings.Contains(body, `"code":-32601`) {
		t.Fatalf("probe answer: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Mcp-Session-Id") != "" {
		t.Error("a probe must not create a session")
	}
}

// TestBatch20250326 sends a 2025-03-26 batch of two requests and a
// notification through the proxy and gets both responses; the same batch
// at 2025-06-18 is refused.
func TestBatch20250326(t *testing.T) {
	bin := buildEverythingServer(t)
	url := startProxy(t, stdioProxySite(bin)) + "/mcp"
	c := &http.Client{Timeout: 30 * time.Second}
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

// mcpPostVersion is mcpPost with an explicit MCP-Protocol-Version ("" for none).
func mcpPostVersion(t testing.TB, c *http.Client, url, session, version, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	if version != "" {
		req.Header.Set("Mcp-Protocol-Version", version)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp, readAll(t, resp)
}

func doRead(t testing.TB, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp, readAll(t, resp)
}
