package caddytest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// pipelineUpstreams are the two kinds of upstream the pipeline tests run
// against: the go-sdk everything-server over stdio, and an in-process
// go-sdk (stateless) Streamable HTTP server built by newServer.
func pipelineUpstreams(t *testing.T, newServer func() *mcp.Server) map[string]string {
	bin := buildEverythingServer(t)
	up := httptest.NewServer(statelessHandler(newServer()))
	t.Cleanup(up.Close)
	return map[string]string{
		"stdio": "stdio " + caddyfileQuote(bin),
		"http":  "http " + caddyfileQuote(up.URL),
	}
}

// everythingLike is an HTTP go-sdk server with the everything-server's
// tools and prompt that the action tests use.
func everythingLike() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "pipeline-http", Version: "1"}, nil)
	type promptArgs struct {
		Prompt string `json:"prompt"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "test_simple_text"}, func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "This is a simple text response for testing."}}}, nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "test_sampling"}, func(context.Context, *mcp.CallToolRequest, promptArgs) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "sampled"}}}, nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "test_image_content"}, func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.ImageContent{Data: []byte{1}, MIMEType: "image/png"}}}, nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "test_multiple_content_types"}, func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "This is text content"},
			&mcp.ImageContent{Data: []byte{1}, MIMEType: "image/png"}}}, nil, nil
	})
	s.AddPrompt(&mcp.Prompt{Name: "test_prompt_with_arguments", Arguments: []*mcp.PromptArgument{{Name: "arg1", Required: true}, {Name: "arg2", Required: true}}},
		func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			a := req.Params.Arguments
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user",
				Content: &mcp.TextContent{Text: fmt.Sprintf("Prompt with arguments: arg1='%s', arg2='%s'", a["arg1"], a["arg2"])}}}}, nil
		})
	return s
}

// actionRules exercise every action through a real Caddy.
var actionRules = []string{
	"intercept no-secrets {\n\ttool test_sampling\n\tfield /params/arguments/prompt ^secret\n\tlog\n\tblock \"secret prompts are not sampled here\"\n}",
	"intercept fake-image {\n\ttool test_image_content\n\tmock `{\"content\": [{\"type\": \"text\", \"text\": \"mocked by the gateway\"}]}`\n}",
	"intercept force-arg {\n\tmethod prompts/get\n\tprompt test_prompt_*\n\tset /params/arguments/arg2 `\"forced\"`\n}",
	"intercept slow {\n\ttool test_simple_text\n\tdelay 300ms\n}",
	"intercept redact {\n\tdirection to_client\n\ttool test_simple_text\n\tset /result/content/0/text `\"redacted\"`\n}",
	"intercept drop-text {\n\tdirection to_client\n\ttool test_multiple_content_types\n\tremove /result/content/0\n}",
	"intercept by-expression {\n\texpression `tool == \"test_sampling\" && message.params.arguments.prompt == \"cel\"`\n\tblock \"blocked by CEL\"\n}",
}

// TestPipelineActions runs each action through a real Caddy against real
// go-sdk servers over stdio and HTTP, with a 2025-11-25 client and a
// 2026-07-28 one (stateless), through the same rules.
func TestPipelineActions(t *testing.T) {
	ups := pipelineUpstreams(t, everythingLike)
	for _, tc := range []struct{ upstream, version, extra string }{
		{"stdio", "2025-11-25", ""},
		{"http", "2025-11-25", ""},
		{"stdio", "", " {\n\t\t\tprotocol modern\n\t\t}"}, // the go-sdk client's default: 2026-07-28
		{"http", "", ""},
	} {
		name := tc.upstream + "/" + tc.version
		if tc.version == "" {
			name = tc.upstream + "/2026-07-28"
		}
		t.Run(name, func(t *testing.T) {
			url := startProxy(t, pipelineSite(ups[tc.upstream]+tc.extra, actionRules...)) + "/mcp"
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cs := connectGo(ctx, t, url, tc.version, nil)
			if tc.version == "" && cs.InitializeResult().ProtocolVersion != "2026-07-28" {
				t.Fatalf("negotiated %q, want 2026-07-28", cs.InitializeResult().ProtocolVersion)
			}

			// block (by field): a JSON-RPC error with the fixed code, the
			// rule's message and error.data {rule, correlation_id}.
			_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_sampling", Arguments: map[string]any{"prompt": "secret plan"}})
			e := wantRPCError(t, err, "blocked call")
			var data struct {
				Rule          string `json:"rule"`
				CorrelationID string `json:"correlation_id"`
			}
			if e.Code != codeBlocked || e.Message != "secret prompts are not sampled here" ||
				json.Unmarshal(e.Data, &data) != nil || data.Rule != "no-secrets" || data.CorrelationID == "" {
				t.Errorf("blocked call: code %d message %q data %s", e.Code, e.Message, e.Data)
			}
			// block (by CEL expression).
			_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_sampling", Arguments: map[string]any{"prompt": "cel"}})
			if e := wantRPCError(t, err, "CEL-blocked call"); e.Code != codeBlocked || e.Message != "blocked by CEL" {
				t.Errorf("CEL block: %d %q", e.Code, e.Message)
			}

			// mock: the server never sees the call; the client gets the rule's result.
			if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: "test_image_content"}); got != "mocked by the gateway" {
				t.Errorf("mocked call: %q", got)
			}

			// set on a request.
			res, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "test_prompt_with_arguments", Arguments: map[string]string{"arg1": "a", "arg2": "b"}})
			if err != nil {
				t.Fatalf("prompts/get: %v", err)
			}
			if tc, ok := res.Messages[0].Content.(*mcp.TextContent); !ok || tc.Text != "Prompt with arguments: arg1='a', arg2='forced'" {
				t.Errorf("set on the request: %+v", res.Messages[0].Content)
			}

			// delay on the request, set on the response (a rule on a response).
			start := time.Now()
			if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: "test_simple_text"}); got != "redacted" {
				t.Errorf("response rule: %q, want redacted", got)
			}
			if d := time.Since(start); d < 300*time.Millisecond {
				t.Errorf("delayed call answered after %v, before its 300ms delay", d)
			}

			// remove on the response.
			mc, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_multiple_content_types"})
			if err != nil {
				t.Fatal(err)
			}
			if len(mc.Content) == 0 {
				t.Fatal("no content left")
			}
			if _, isText := mc.Content[0].(*mcp.TextContent); isText {
				t.Errorf("remove /result/content/0 left the text first: %+v", mc.Content)
			}

		})
	}
}
