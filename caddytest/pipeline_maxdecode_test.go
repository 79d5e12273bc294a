package caddytest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestInterceptMaxDecode: through a real Caddy in front of the
// everything-server, a rule whose expression needs the arguments whole
// cannot judge a call larger than max_decode and blocks it with its own
// words (counted in caddy_mcp_interceptions_too_large_total), while a field
// that reads a string of the same large call is judged as usual, and small
// calls pass.
func TestInterceptMaxDecode(t *testing.T) {
	bin := buildEverythingServer(t)
	url := startProxy(t, pipelineSite("name max-decode\n\t\tstdio "+caddyfileQuote(bin),
		"max_decode 64KiB",
		"intercept big-cel {\n\t\t\ttool test_simple_text\n\t\t\texpression `message.params.arguments.exists(k, k == \"never\")`\n\t\t\tblock \"cel\"\n\t\t}",
		"intercept no-etc {\n\t\t\ttool test_image_content\n\t\t\tfield /params/arguments/path ^/etc/\n\t\t\tblock \"no etc\"\n\t\t}")) + "/mcp"
	const tooLarge = `caddy_mcp_interceptions_too_large_total{endpoint="max-decode",rule="big-cel"}`
	before := scrape(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs := connectGo(ctx, t, url, "2025-11-25", nil)
	pad := strings.Repeat("x", 100<<10)

	_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_simple_text", Arguments: map[string]any{"x": pad}})
	if e := wantRPCError(t, err, "a call too large to judge"); e.Code != codeBlocked || e.Message != "the message is too large for the gateway's rule to judge" {
		t.Errorf("a call too large to judge: %d %q", e.Code, e.Message)
	}
	if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: "test_simple_text"}); got == "" {
		t.Error("a small call got no text")
	}
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_image_content", Arguments: map[string]any{"pad": pad, "path": "/etc/passwd"}})
	if e := wantRPCError(t, err, "a large call a field judges"); e.Code != codeBlocked || e.Message != "no etc" {
		t.Errorf("a large call a field judges: %d %q", e.Code, e.Message)
	}
	if got := scrape(t)[tooLarge] - before[tooLarge]; got != 1 {
		t.Errorf("%s went up by %v, want 1", tooLarge, got)
	}
}
