//lint:file-ignore SA1019 sampling is deprecated from 2026-07-28 on, and still part of the 2025 revisions a federation must carry.

package caddytest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// newDocsServer is a go-sdk server unlike server-everything: an echo tool
// (so that the two servers share a tool name), a prompt and a resource.
func newDocsServer() *mcp.Server {
	s := newEchoServer("docs")
	s.AddPrompt(&mcp.Prompt{Name: "summarize"}, func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{Description: "summarize from docs", Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "sum"}}}}, nil
	})
	s.AddResource(&mcp.Resource{Name: "readme", URI: "docs://readme"}, func(_ context.Context, r *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: r.Params.URI, Text: "the docs readme"}}}, nil
	})
	return s
}

// TestFederation: server-everything over stdio and a go-sdk server over
// HTTP behind one endpoint, as one server to a go-sdk 2025 client: the
// lists of both (names prefixed with the server), calls, prompts and
// resources of both routed to their server; a tool added on one server
// reaches the client as list_changed; killing server-everything's process
// takes its tools out while the other's calls go on, and they come back.
func TestFederation(t *testing.T) {
	requireIntegration(t)
	node := node20(t)
	everything := nodeModule(t, "@modelcontextprotocol", "server-everything", "dist", "index.js")
	docs := newDocsServer()
	ts := httptest.NewServer(goSDKHandler(docs))
	defer ts.Close()
	base := startProxy(t, fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	header >X-MCP-Server "[{http.mcp.server}]"
	mcp_proxy /mcp {
		server everything {
			stdio %s %s stdio {
				warm 0
			}
		}
		server docs {
			http %s
		}
		federate {
			server_name "Acme tools"
		}
	}
}
`, caddyfileQuote(node), caddyfileQuote(everything), caddyfileQuote(ts.URL)))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	changed := make(chan struct{}, 8)
	var progress atomic.Int32
	client := mcp.NewClient(&mcp.Implementation{Name: "caddytest-federation", Version: "0"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changed <- struct{}{} },
		CreateMessageHandler: func(context.Context, *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			return &mcp.CreateMessageResult{Role: "assistant", Content: &mcp.TextContent{Text: "forty-two"}, Model: "caddytest"}, nil
		},
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			if fmt.Sprint(req.Params.ProgressToken) == "fed-progress" {
				progress.Add(1)
			}
		},
	})
	servers := &serverHeaders{seen: map[string]bool{}}
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + "/mcp", HTTPClient: &http.Client{Transport: servers}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if info := cs.InitializeResult().ServerInfo; info.Name != "Acme tools" {
		t.Errorf("serverInfo %+v", info)
	}

	federatedLists(ctx, t, cs, changed)
	if !servers.saw("[everything]") || !servers.saw("[docs]") {
		t.Errorf("{http.mcp.server} of the calls: %v", servers.seen)
	}
	federatedServerRequests(ctx, t, cs, &progress)
	federatedListChanged(ctx, t, cs, docs, changed)
	federatedKill(ctx, t, cs, changed)
}

// federatedLists: the lists hold both servers' names, and calls, prompts
// and resources of each reach it.
func federatedLists(ctx context.Context, t *testing.T, cs *mcp.ClientSession, changed <-chan struct{}) {
	t.Helper()
	federatedToolNames(ctx, t, cs, changed, "everything_echo", "everything_get-sum", "docs_echo")
	if got := callText(ctx, t, cs, "everything_echo", map[string]any{"message": "hi"}); got != "Echo: hi" {
		t.Errorf("everything_echo: %q", got)
	}
	if got := callText(ctx, t, cs, "docs_echo", map[string]any{"text": "from docs"}); got != "from docs" {
		t.Errorf("docs_echo: %q", got)
	}

	federatedPromptsAndResources(ctx, t, cs)
}

func federatedPromptsAndResources(ctx context.Context, t *testing.T, cs *mcp.ClientSession) {
	t.Helper()
	var prompts []string
	for p, err := range cs.Prompts(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		prompts = append(prompts, p.Name)
	}
	if !slices.Contains(prompts, "everything_simple-prompt") || !slices.Contains(prompts, "docs_summarize") {
		t.Errorf("prompts %v", prompts)
	}
	for name, want := range map[string]string{"docs_summarize": "summarize from docs", "everything_simple-prompt": ""} {
		res, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: name})
		if err != nil || len(res.Messages) == 0 || (want != "" && res.Description != want) {
			t.Errorf("prompts/get %s: %+v %v", name, res, err)
		}
	}

	var uris []string
	for r, err := range cs.Resources(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		uris = append(uris, r.URI)
	}
	if !slices.Contains(uris, "docs://readme") || !slices.ContainsFunc(uris, func(u string) bool { return strings.HasPrefix(u, "demo://resource/static/document/") }) {
		t.Fatalf("resources %v", uris)
	}
	for _, uri := range []string{"docs://readme", uris[0], "demo://resource/dynamic/text/1"} {
		res, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
		if err != nil || len(res.Contents) == 0 || res.Contents[0].URI != uri {
			t.Errorf("resources/read %s: %+v %v", uri, res, err)
		}
	}
}

// federatedServerRequests: server-everything's sampling request reaches
// the client and the answer reaches it back; its progress comes with the
// client's own token.
func federatedServerRequests(ctx context.Context, t *testing.T, cs *mcp.ClientSession, progress *atomic.Int32) {
	t.Helper()
	if got := callText(ctx, t, cs, "everything_trigger-sampling-request", map[string]any{"prompt": "meaning?", "maxTokens": 5}); !strings.Contains(got, "forty-two") {
		t.Errorf("sampling through the federation: %q", got)
	}
	params := &mcp.CallToolParams{Name: "everything_trigger-long-running-operation", Arguments: map[string]any{"duration": 0.2, "steps": 2}}
	params.SetProgressToken("fed-progress")
	if _, err := cs.CallTool(ctx, params); err != nil {
		t.Fatal(err)
	}
	// The client's handlers run apart from the call's return.
	if !poll(10*time.Second, func() bool { return progress.Load() > 0 }) {
		t.Error("no progress with the client's token")
	}
}

// federatedListChanged: one server's list_changed reaches the client.
func federatedListChanged(ctx context.Context, t *testing.T, cs *mcp.ClientSession, docs *mcp.Server, changed chan struct{}) {
	t.Helper()
	// The gateway holds the
	// docs server's GET stream, where the go-sdk sends it, while the client
	// listens; until that stream is open a change goes unheard, so the test
	// changes the list again until the client hears (a retry, not a timing
	// assertion).
	for heard := false; !heard; {
		mcp.AddTool(docs, &mcp.Tool{Name: "fresh"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "fresh"}}}, nil, nil
		})
		select {
		case <-changed:
			heard = true
		case <-time.After(200 * time.Millisecond):
			docs.RemoveTools("fresh")
		case <-ctx.Done():
			t.Fatal("no tools/list_changed after a tool was added on one server")
		}
	}
	for len(changed) > 0 { // a second change's notification
		<-changed
	}
	if !slices.Contains(toolNames(ctx, t, cs), "docs_fresh") {
		t.Error("the added tool is not listed")
	}
}

// federatedKill: server-everything's process dies: the client hears
// list_changed, the other server's calls go on, and once the gateway has
// opened a new session on a new process the tools come back (list_changed
// again). That a call of a gone tool names the server, never its command,
// is upstream/federate's TestServerFails: here the new process may come
// before the test could look.
func federatedKill(ctx context.Context, t *testing.T, cs *mcp.ClientSession, changed chan struct{}) {
	t.Helper()
	for _, pid := range childPIDs(t) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	select {
	case <-changed:
	case <-ctx.Done():
		t.Fatal("no tools/list_changed after a server's process was killed")
	}
	if got := callText(ctx, t, cs, "docs_echo", map[string]any{"text": "still here"}); got != "still here" {
		t.Errorf("docs_echo after the kill: %q", got)
	}
	// Each list_changed (a failed attempt also sends one) is a cue to list.
	for back := false; !back; {
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatal("the killed server's tools did not come back")
		}
		tools := toolNames(ctx, t, cs)
		back = slices.Contains(tools, "everything_echo")
		if !slices.Contains(tools, "docs_echo") {
			t.Fatalf("tools while the killed server came back: %v", tools)
		}
	}
	if got := callText(ctx, t, cs, "everything_echo", map[string]any{"message": "back"}); got != "Echo: back" {
		t.Errorf("everything_echo after the restart: %q", got)
	}
}

// federatedToolNames returns the tools once every name in want is listed.
// A server that starts slower than the federation's initialize timeout
// (a cold Node process on a loaded machine) is left out of the session at
// first and rejoins it later, announced by list_changed on changed.
func federatedToolNames(ctx context.Context, t *testing.T, cs *mcp.ClientSession, changed <-chan struct{}, want ...string) []string {
	t.Helper()
	for {
		names := toolNames(ctx, t, cs)
		if !slices.ContainsFunc(want, func(w string) bool { return !slices.Contains(names, w) }) {
			return names
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("tools/list has %v, want %v (no list_changed brought the rest)", names, want)
		}
	}
}

func toolNames(ctx context.Context, t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	var names []string
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tool.Name)
	}
	return names
}

func callText(ctx context.Context, t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) string {
	t.Helper()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(res.Content) == 0 {
		return ""
	}
	if tc, ok := res.Content[0].(*mcp.TextContent); ok {
		return tc.Text
	}
	return ""
}

// serverHeaders records the X-MCP-Server values of the proxy's answers.
type serverHeaders struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (s *serverHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		s.mu.Lock()
		s.seen[resp.Header.Get("X-MCP-Server")] = true
		s.mu.Unlock()
	}
	return resp, err
}

func (s *serverHeaders) saw(v string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[v]
}
