package caddytest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestPolicyOutcomes: through a real Caddy in front of the
// everything-server, a go-sdk client's tool calls are told apart by who
// decided them, in GET /mcp_proxy/calls (the console's list), in
// caddy_mcp_tool_calls_total and in caddy_mcp_requests_total (which counts
// a result with isError as ok): a rule's block is blocked, a rule's mock is
// mocked, a call of a hidden tool is blocked (and listed by its name while
// the metric counts it as other), the server's error is error, as is its
// result with isError (a tool_error in the list). And /console, the mount
// without its slash, is redirected to /console/.
func TestPolicyOutcomes(t *testing.T) {
	bin := buildEverythingServer(t)
	site := fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		name policy-outcomes
		stdio %s
		tools {
			deny test_audio_content
		}
		intercept no-sampling {
			tool test_sampling
			block "no sampling here"
		}
		intercept {
			tool test_image_content
			mock `+"`"+`{"content": []}`+"`"+`
		}
	}
	handle_path /console* {
		mcp_console
	}
}
`, caddyfileQuote(bin))
	url := startProxy(t, site) + "/mcp"
	series := func(tool, outcome string) string {
		return fmt.Sprintf(`caddy_mcp_tool_calls_total{endpoint="policy-outcomes",outcome=%q,server="",tool=%q}`, outcome, tool)
	}
	posts := func(outcome string) string {
		return fmt.Sprintf(`caddy_mcp_requests_total{endpoint="policy-outcomes",method="tools/call",outcome=%q}`, outcome)
	}
	before := scrape(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs := connectGo(ctx, t, url, "2025-11-25", nil)
	if _, err := cs.ListTools(ctx, nil); err != nil { // listed tools get their own label
		t.Fatal(err)
	}
	_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_sampling", Arguments: map[string]any{"prompt": "x"}})
	if e := wantRPCError(t, err, "blocked call"); e.Code != codeBlocked {
		t.Fatalf("blocked call: %d %q", e.Code, e.Message)
	}
	if res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_image_content"}); err != nil || res.IsError {
		t.Fatalf("mocked call: %v %+v", err, res)
	}
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_audio_content"})
	wantRPCError(t, err, "hidden tool")
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "no_such_tool"})
	wantRPCError(t, err, "unknown tool")
	if res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_error_handling"}); err != nil || !res.IsError {
		t.Fatalf("test_error_handling: %v %+v, want a result with isError", err, res)
	}
	if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: "test_simple_text"}); got == "" {
		t.Fatal("a call no rule matches got no text")
	}

	var calls apiCalls
	adminGet(t, "/mcp_proxy/calls?endpoint=policy-outcomes", &calls)
	if len(calls.Endpoints) != 1 {
		t.Fatalf("endpoints %+v", calls.Endpoints)
	}
	outcomes := map[string]apiCall{}
	for _, c := range calls.Endpoints[0].Calls {
		outcomes[c.Tool] = c
	}
	for tool, want := range map[string]string{
		"test_sampling": "blocked", "test_image_content": "mocked", "test_audio_content": "blocked",
		"no_such_tool": "error", "test_error_handling": "tool_error", "test_simple_text": "ok",
	} {
		if got := outcomes[tool].Outcome; got != want {
			t.Errorf("GET /mcp_proxy/calls: %s is %q, want %q", tool, got, want)
		}
	}
	if msg := outcomes["test_sampling"].Error; msg != "no sampling here" {
		t.Errorf("the blocked call's message %q, want the rule's", msg)
	}

	after := scrape(t)
	for s, want := range map[string]float64{
		series("test_sampling", "blocked"): 1, series("test_sampling", "error"): 0,
		series("test_image_content", "mocked"): 1, series("test_image_content", "ok"): 0,
		series("other", "blocked"):             1, // the hidden tool: never listed to this client
		series("other", "error"):               1, // no_such_tool, the server's error
		series("test_error_handling", "error"): 1,
		series("test_simple_text", "ok"):       1,
		posts("blocked"):                       2, // the rule's block and the hidden tool
		posts("mocked"):                        1,
		posts("error"):                         1, // no_such_tool
		posts("ok"):                            2, // test_error_handling's isError result and test_simple_text
	} {
		if got := after[s] - before[s]; got != want {
			t.Errorf("%s went up by %v, want %v", s, got, want)
		}
	}

	noFollow := &http.Client{Transport: http.DefaultClient.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(proxyBaseURL + "/console?tab=calls")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "/console/?tab=calls" {
		t.Errorf("GET /console: %s Location %q, want 308 to /console/?tab=calls", resp.Status, resp.Header.Get("Location"))
	}
	resp = sendRequest(ctx, t, http.DefaultClient, http.MethodGet, proxyBaseURL+"/console", "", nil)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "console.js") {
		t.Errorf("GET /console, redirects followed: %s, want the page", resp.Status)
	}
}
