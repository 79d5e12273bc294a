package caddytest

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUpstreamFaults shows, for each way a stdio server can misbehave, the
// answer the client gets through the proxy, with real subprocesses.
func TestUpstreamFaults(t *testing.T) {
	bin := buildEverythingServer(t)
	c := testClient(30 * time.Second)

	t.Run("server that never starts", func(t *testing.T) {
		// Its executable goes away after the load, which refuses a command
		// it cannot find (missing_command_test.go).
		gone := filepath.Join(t.TempDir(), "mcp-server")
		writeScript(t, gone, "exec cat")
		url := startProxy(t, stdioProxySite(gone, "warm 0")) + "/mcp"
		if err := os.Remove(gone); err != nil {
			t.Fatal(err)
		}
		resp, body := mcpPost(t, c, url, "", initializeBody)
		// The client learns what happened, not the command (the log has it).
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "could not be started") ||
			strings.Contains(body, gone) || !strings.Contains(body, `"id":1`) {
			t.Fatalf("got %d %s", resp.StatusCode, body)
		}
	})

	t.Run("server that exits mid-request", func(t *testing.T) {
		// Answers initialize, then dies on the next request without
		// answering it.
		script := filepath.Join(t.TempDir(), "crash.sh")
		writeScript(t, script, `read line
echo '{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"crash","version":"1"}}}'
read line
read line
exit 3`)
		url := startProxy(t, stdioProxySite(script, "warm 0", "protocol legacy")) + "/mcp"
		id := openSession(t, c, url)
		resp, body := mcpPost(t, c, url, id, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x"}}`)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"code":-32000`) || !strings.Contains(body, "the upstream MCP server ended") {
			t.Fatalf("in-flight request: got %d %s", resp.StatusCode, body)
		}
		resp, body = mcpPost(t, c, url, id, `{"jsonrpc":"2.0","id":3,"method":"ping"}`)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("next request on the dead session: got %d %s, want 404", resp.StatusCode, body)
		}
	})

	t.Run("server that dies during initialize", func(t *testing.T) {
		script := filepath.Join(t.TempDir(), "crash-init.sh")
		writeScript(t, script, "read line\nexit 3")
		url := startProxy(t, stdioProxySite(script, "warm 0", "protocol legacy")) + "/mcp"
		resp, body := mcpPost(t, c, url, "", initializeBody)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"code":-32000`) || !strings.Contains(body, "the upstream MCP server ended") {
			t.Fatalf("initialize: got %d %s", resp.StatusCode, body)
		}
		if id := resp.Header.Get("Mcp-Session-Id"); id != "" {
			t.Fatalf("the answer names session %q, which already ended", id)
		}
	})

	t.Run("server that ignores stdin EOF and SIGTERM", func(t *testing.T) {
		script := filepath.Join(t.TempDir(), "stubborn.sh")
		writeScript(t, script, `trap "" TERM
read line
echo '{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"stubborn","version":"1"}}}'
while :; do sleep 1; done`)
		url := startProxy(t, stdioProxySite(script, "warm 0", "stop_timeout 200ms")) + "/mcp"
		resp, body := mcpPost(t, c, url, "", initializeBody)
		id := resp.Header.Get("Mcp-Session-Id")
		if resp.StatusCode != http.StatusOK || id == "" {
			t.Fatalf("initialize: %d %s", resp.StatusCode, body)
		}
		if len(childPIDs(t)) == 0 {
			t.Fatal("the server process is not running")
		}
		deleteSession(t, c, url, id)
		// close stdin → 200ms → SIGTERM (ignored) → 200ms → SIGKILL.
		waitForChildren(t, 0, 5*time.Second)
	})

	t.Run("full pool", func(t *testing.T) {
		url := startProxy(t, stdioProxySite(bin, "max_processes 1", "warm 0", "acquire_timeout 100ms")) + "/mcp"
		first := openSession(t, c, url)
		// Its client listens on the GET stream: the session is busy and
		// keeps its process.
		get := openGetStream(t, url, first)
		resp, body := mcpPost(t, c, url, "", initializeBody)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "max_processes") {
			t.Fatalf("second session on a full pool of busy sessions: %d Retry-After=%q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		if resp, body := mcpPost(t, c, url, first, `{"jsonrpc":"2.0","id":2,"method":"ping"}`); resp.StatusCode != http.StatusOK {
			t.Fatalf("the busy session after the refusal: %d %s", resp.StatusCode, body)
		}
		// Once its client stops listening the session is idle, and a new
		// session takes its process.
		get.Body.Close()
		// The server notices the closed GET stream after a moment.
		if !poll(5*time.Second, func() bool {
			resp, body = mcpPost(t, c, url, "", initializeBody)
			return resp.StatusCode == http.StatusOK
		}) {
			t.Fatalf("the idle session never gave way: %d %s", resp.StatusCode, body)
		}
		if resp, body := mcpPost(t, c, url, first, `{"jsonrpc":"2.0","id":3,"method":"ping"}`); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("the evicted session: %d %s, want 404", resp.StatusCode, body)
		}
	})
}

// openGetStream opens the standalone GET stream of session id and returns
// the response once its headers arrived; the caller closes its body.
func openGetStream(t testing.TB, url, id string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("GET stream: status %d", resp.StatusCode)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// writeScript writes an executable shell script.
func writeScript(t testing.TB, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}
