package caddytest

import (
	"cmp"
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// pagedServer is a go-sdk server whose lists come in pages of two: tools
// tool_a … tool_e, prompts and resources to hide some of.
func pagedServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "paged", Version: "1"}, &mcp.ServerOptions{PageSize: 2})
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		mcp.AddTool(s, &mcp.Tool{Name: "tool_" + n}, func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "called " + n}}}, nil, nil
		})
	}
	for _, n := range []string{"public", "secret_one", "secret_two"} {
		s.AddPrompt(&mcp.Prompt{Name: n}, func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: n}}}}, nil
		})
	}
	for _, uri := range []string{"file:///public/a", "file:///secret/x/y", "file:///public/b"} {
		s.AddResource(&mcp.Resource{Name: uri, URI: uri}, func(context.Context, *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, Text: "contents of " + uri}}}, nil
		})
	}
	return s
}

// TestPipelineFilterPaginated: tools, prompts and resources filters through
// a real Caddy in front of a go-sdk server whose lists are paginated (pages
// of two): every page is filtered, and a call, get or read of a hidden name
// gets -32602 as an unknown one does — for a 2025-11-25 client and a
// 2026-07-28 one. The HTTP upstream serves both revisions.
func TestPipelineFilterPaginated(t *testing.T) {
	up := httptest.NewServer(statelessHandler(pagedServer()))
	defer up.Close()
	url := startProxy(t, pipelineSite("http "+caddyfileQuote(up.URL),
		"tools {\n\tallow tool_*\n\tdeny tool_b tool_d\n}",
		"prompts {\n\tdeny secret_*\n}",
		"resources {\n\tdeny file:///secret/*\n}")) + "/mcp"
	for _, version := range []string{"2025-11-25", ""} {
		name := version
		if name == "" {
			name = "2026-07-28"
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cs := connectGo(ctx, t, url, version, nil)
			if want := cmp.Or(version, "2026-07-28"); cs.InitializeResult().ProtocolVersion != want {
				t.Fatalf("negotiated %q, want %q", cs.InitializeResult().ProtocolVersion, want)
			}
			var tools []string
			for tool, err := range cs.Tools(ctx, nil) {
				if err != nil {
					t.Fatalf("tools/list: %v", err)
				}
				tools = append(tools, tool.Name)
			}
			if want := []string{"tool_a", "tool_c", "tool_e"}; !slices.Equal(tools, want) {
				t.Errorf("tools = %v, want %v", tools, want)
			}
			if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: "tool_c"}); got != "called c" {
				t.Errorf("visible tool answered %q", got)
			}
			_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "tool_b"})
			if e := wantRPCError(t, err, "hidden tool"); e.Code != -32602 || e.Message != `unknown tool "tool_b"` {
				t.Errorf("hidden tool: %d %q", e.Code, e.Message)
			}
			_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "tool_nonexistent"})
			if e := wantRPCError(t, err, "unknown tool"); e.Code != -32602 {
				t.Errorf("unknown tool: %d %q", e.Code, e.Message)
			}

			var prompts []string
			for p, err := range cs.Prompts(ctx, nil) {
				if err != nil {
					t.Fatalf("prompts/list: %v", err)
				}
				prompts = append(prompts, p.Name)
			}
			if want := []string{"public"}; !slices.Equal(prompts, want) {
				t.Errorf("prompts = %v, want %v", prompts, want)
			}
			_, err = cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "secret_one"})
			if e := wantRPCError(t, err, "hidden prompt"); e.Code != -32602 {
				t.Errorf("hidden prompt: %d %q", e.Code, e.Message)
			}

			var resources []string
			for r, err := range cs.Resources(ctx, nil) {
				if err != nil {
					t.Fatalf("resources/list: %v", err)
				}
				resources = append(resources, r.URI)
			}
			if want := []string{"file:///public/a", "file:///public/b"}; !slices.Equal(resources, want) {
				t.Errorf("resources = %v, want %v", resources, want)
			}
			_, err = cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "file:///secret/x/y"})
			if e := wantRPCError(t, err, "hidden resource"); e.Code != -32602 {
				t.Errorf("hidden resource: %d %q", e.Code, e.Message)
			}
		})
	}
}

// TestPipelineFilterListChanged: over stdio, the everything-server adds a
// tool and sends notifications/tools/list_changed; the list the client
// fetches then is filtered too.
func TestPipelineFilterListChanged(t *testing.T) {
	bin := buildEverythingServer(t)
	url := startProxy(t, pipelineSite("stdio "+caddyfileQuote(bin),
		"tools {\n\tallow test_simple_text test_trigger_tool_change\n}")) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	changed := make(chan struct{}, 1)
	cs := connectGo(ctx, t, url, "2025-11-25", &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case changed <- struct{}{}:
			default:
			}
		},
	})
	list := func() []string {
		res, err := cs.ListTools(ctx, nil)
		if err != nil {
			t.Fatalf("tools/list: %v", err)
		}
		var names []string
		for _, tool := range res.Tools {
			names = append(names, tool.Name)
		}
		slices.Sort(names)
		return names
	}
	want := []string{"test_simple_text", "test_trigger_tool_change"}
	if got := list(); !slices.Equal(got, want) {
		t.Fatalf("tools = %v, want %v", got, want)
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_trigger_tool_change"}); err != nil {
		t.Fatalf("test_trigger_tool_change: %v", err)
	}
	select {
	case <-changed:
	case <-ctx.Done():
		t.Fatal("no notifications/tools/list_changed reached the client")
	}
	if got := list(); !slices.Equal(got, want) {
		t.Errorf("tools after list_changed = %v, want %v (the added tool is not allowed)", got, want)
	}
	_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_image_content"})
	if e := wantRPCError(t, err, "a tool the allow list leaves out"); e.Code != -32602 {
		t.Errorf("hidden tool: %d %q", e.Code, e.Message)
	}
}
