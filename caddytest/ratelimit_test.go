package caddytest

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	// The rate_limit handler, for the proof that the mcp matcher limits
	// one tool; only this test binary builds it in.
	_ "github.com/mholt/caddy-ratelimit"
)

// rateLimitSite limits tools/call of test_simple_text to two per minute
// per MCP session, in a route (rate_limit registers no directive order),
// and turns the 429 into a JSON-RPC error the client can read.
func rateLimitSite(bin, logFile string) string {
	return fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	log {
		output file %s
		format json
	}
	route /mcp {
		rate_limit {
			zone simple_text {
				match {
					mcp {
						method tools/call
						tool test_simple_text
					}
				}
				key {http.mcp.session_id}
				window 1m
				events 2
			}
		}
		mcp_proxy {
			stdio %s
		}
	}
	handle_errors 429 {
		header Content-Type application/json
		respond `+"`"+`{"jsonrpc":"2.0","id":{http.mcp.request_id},"error":{"code":-32000,"message":"rate limited: {http.mcp.tool} ({http.rate_limit.exceeded.name}); retry later"}}`+"`"+` 429
	}
}
`, caddyfileQuote(logFile), caddyfileQuote(bin))
}

// TestRateLimitOneTool: with caddy-ratelimit, a zone matched by the mcp
// matcher and keyed on {http.mcp.session_id} limits one tool of one
// session: its third call in the window is answered 429 with Retry-After
// and a JSON-RPC error naming the request (and its access log line names
// the tool), while another tool of that session, and the same tool in
// another session, go on.
func TestRateLimitOneTool(t *testing.T) {
	bin := buildEverythingServer(t)
	logFile := filepath.Join(t.TempDir(), "access.log")
	url := startProxy(t, rateLimitSite(bin, logFile)) + "/mcp"
	wc := newWireClient(t, url)
	sid := wc.openSessionAt("2025-06-18", nil)

	for i := 2; i <= 3; i++ {
		id := strconv.Itoa(i)
		resp, body := wc.post(sid, "2025-06-18", callTool(id, "test_simple_text"), nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("call %d of the limited tool: %s %s", i-1, resp.Status, body)
		}
		if m := responseTo(t, resp, body, id); m.Error != nil {
			t.Fatalf("call %d of the limited tool answered %s", i-1, body)
		}
	}

	resp, body := wc.post(sid, "2025-06-18", callTool(`"third"`, "test_simple_text"), nil)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the third call in the window: %s %s, want 429\n%s", resp.Status, body, wc.text())
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After = %q, want whole seconds within the 1m window", resp.Header.Get("Retry-After"))
	}
	m := responseTo(t, resp, body, `"third"`)
	if m.Error == nil || m.Error.Code != -32000 || !strings.Contains(m.Error.Message, "rate limited: test_simple_text (simple_text)") {
		t.Errorf("the 429's body is %s, want a JSON-RPC error for request \"third\" naming the tool and the zone", body)
	}

	waitUntil(t, 5*time.Second, "the access log line of the refused call", func() bool {
		for _, l := range readAccessLog(t, logFile) {
			if l.Status == http.StatusTooManyRequests {
				if l.MCP["tool"] != "test_simple_text" || l.MCP["request_id"] != `"third"` || l.MCP["session_id"] != sid {
					t.Fatalf("the refused call's log line has mcp = %v, want the tool, the id and the session", l.MCP)
				}
				return true
			}
		}
		return false
	})

	// Another tool of the same session is not limited.
	for i := 10; i < 13; i++ {
		id := strconv.Itoa(i)
		resp, body := wc.post(sid, "2025-06-18", callTool(id, "test_image_content"), nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("another tool after the limit: %s %s", resp.Status, body)
		}
		if m := responseTo(t, resp, body, id); m.Error != nil {
			t.Errorf("another tool after the limit answered %s", body)
		}
	}

	// The key is the session: another session has its own two calls.
	other := wc.openSessionAt("2025-06-18", nil)
	resp, body = wc.post(other, "2025-06-18", callTool("2", "test_simple_text"), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the limited tool in another session: %s %s", resp.Status, body)
	}
	// And the first one is still limited.
	if resp, body := wc.post(sid, "2025-06-18", callTool("4", "test_simple_text"), nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the limited session after another session's call: %s %s, want 429", resp.Status, body)
	}
}
