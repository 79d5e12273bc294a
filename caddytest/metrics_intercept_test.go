package caddytest

import (
	"context"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestMetricsInterceptions: what intercept rules did shows on the admin
// /metrics as caddy_mcp_interceptions_total by endpoint, rule (an unnamed
// rule as rule-<n>) and action, through a real Caddy in front of the
// everything-server: one blocked call and two mocked ones.
func TestMetricsInterceptions(t *testing.T) {
	bin := buildEverythingServer(t)
	url := startProxy(t, pipelineSite("name metrics-intercept\n\t\tstdio "+caddyfileQuote(bin),
		"intercept no-sampling {\n\t\t\ttool test_sampling\n\t\t\tblock\n\t\t}",
		"intercept {\n\t\t\ttool test_image_content\n\t\t\tlog\n\t\t\tmock `{\"content\": []}`\n\t\t}")) + "/mcp"
	const (
		blocked = `caddy_mcp_interceptions_total{action="block",endpoint="metrics-intercept",rule="no-sampling"}`
		logged  = `caddy_mcp_interceptions_total{action="log",endpoint="metrics-intercept",rule="rule-2"}`
		mocked  = `caddy_mcp_interceptions_total{action="mock",endpoint="metrics-intercept",rule="rule-2"}`
	)
	// The counters live as long as the process: earlier tests may have
	// counted under these labels too, so the test reads what it added.
	before := scrape(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs := connectGo(ctx, t, url, "2025-11-25", nil)
	_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_sampling", Arguments: map[string]any{"prompt": "x"}})
	if e := wantRPCError(t, err, "blocked call"); e.Code != codeBlocked {
		t.Fatalf("blocked call: %d %q", e.Code, e.Message)
	}
	for range 2 {
		if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_image_content"}); err != nil {
			t.Fatalf("mocked call: %v", err)
		}
	}
	if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: "test_simple_text"}); got == "" {
		t.Fatal("a call no rule matches got no text")
	}
	after := scrape(t)
	for series, want := range map[string]float64{blocked: 1, logged: 2, mocked: 2} {
		if got := after[series] - before[series]; got != want {
			t.Errorf("%s went up by %v, want %v", series, got, want)
		}
	}
}
