package caddytest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestFederation2026: two different servers behind one endpoint — the
// go-sdk everything-server over stdio and a go-sdk docs server over
// stateless HTTP, both speaking 2026-07-28 — as one server to a go-sdk
// 2026-07-28 client, with no session: server/discover names the
// federation, the lists hold both servers' names, tools, prompts and
// resources of each are reached under the client-visible names (the HTTP
// server checks that Mcp-Name matches the body's name, so the gateway
// rewrote both), and a list_changed of one server arrives on the client's
// subscriptions/listen stream, which listens on both (one shared stdio
// process: the listen and the call meet the same server instance).
func TestFederation2026(t *testing.T) {
	requireIntegration(t)
	bin := buildEverythingServer(t)
	ts := httptest.NewServer(statelessHandler(newDocsServer()))
	defer ts.Close()
	base := startProxy(t, fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		server everything {
			stdio %s {
				protocol modern
				shared 1
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
`, caddyfileQuote(bin), caddyfileQuote(ts.URL)))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	changed := make(chan struct{}, 1)
	client := mcp.NewClient(&mcp.Implementation{Name: "caddytest-federation-2026", Version: "0"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case changed <- struct{}{}:
			default:
			}
		},
	})
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if res := cs.InitializeResult(); res.ProtocolVersion != "2026-07-28" || res.ServerInfo == nil || res.ServerInfo.Name != "Acme tools" {
		t.Fatalf("discover: version %q, serverInfo %+v; want 2026-07-28 and the federation's", res.ProtocolVersion, res.ServerInfo)
	}

	tools := toolNames(ctx, t, cs)
	for _, want := range []string{"everything_test_simple_text", "everything_test_trigger_tool_change", "docs_echo"} {
		if !slices.Contains(tools, want) {
			t.Fatalf("tools/list has no %s: %v", want, tools)
		}
	}
	if got := callText(ctx, t, cs, "everything_test_simple_text", nil); got == "" {
		t.Error("everything_test_simple_text: no text")
	}
	if got := callText(ctx, t, cs, "docs_echo", map[string]any{"text": "from docs"}); got != "from docs" {
		t.Errorf("docs_echo: %q", got)
	}
	p, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "docs_summarize"})
	if err != nil || p.Description != "summarize from docs" {
		t.Errorf("prompts/get docs_summarize: %+v %v", p, err)
	}
	p, err = cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "everything_test_prompt_with_arguments",
		Arguments: map[string]string{"arg1": "x", "arg2": "y"}})
	if err != nil || len(p.Messages) == 0 {
		t.Errorf("prompts/get everything_test_prompt_with_arguments: %+v %v", p, err)
	}
	for _, uri := range []string{"docs://readme", "test://static-text"} {
		r, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
		if err != nil || len(r.Contents) == 0 || r.Contents[0].Text == "" {
			t.Errorf("resources/read %s: %+v %v", uri, r, err)
		}
	}

	if got := callText(ctx, t, cs, "everything_test_trigger_tool_change", nil); got != "tools_list_changed published" {
		t.Fatalf("trigger: %q", got)
	}
	select {
	case <-changed:
	case <-ctx.Done():
		t.Fatal("notifications/tools/list_changed never arrived on the listen stream")
	}
}

// TestFederation2026SessionsOnlyServer: when one server of the endpoint
// speaks only the 2025 revisions, a 2026-07-28 client falls back to a
// session, as with a single upstream of that kind, and sees every server.
func TestFederation2026SessionsOnlyServer(t *testing.T) {
	requireIntegration(t)
	bin := buildEverythingServer(t)
	ts := httptest.NewServer(goSDKHandler(newDocsServer())) // stateful: 2025 revisions only
	defer ts.Close()
	base := startProxy(t, fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		server everything {
			stdio %s {
				protocol modern
			}
		}
		server docs {
			http %s
		}
	}
}
`, caddyfileQuote(bin), caddyfileQuote(ts.URL)))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "caddytest-federation-mixed", Version: "0"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if v := cs.InitializeResult().ProtocolVersion; v >= "2026-07-28" {
		t.Fatalf("negotiated %q, want a session of the 2025 revisions", v)
	}
	tools := toolNames(ctx, t, cs)
	for _, want := range []string{"everything_test_simple_text", "docs_echo"} {
		if !slices.Contains(tools, want) {
			t.Errorf("tools/list has no %s: %v", want, tools)
		}
	}
	if got := callText(ctx, t, cs, "docs_echo", map[string]any{"text": "in a session"}); got != "in a session" {
		t.Errorf("docs_echo: %q", got)
	}
}

// TestFederation2026ListenRejoin: a 2026-07-28 client's listen starts
// while server late is down (it answers 503); the gateway asks late
// again while docs listens, and once late serves, the client gets
// tools/list_changed on its open listen and lists late's tools; when late
// goes down again, list_changed tells the client that too.
func TestFederation2026ListenRejoin(t *testing.T) {
	requireIntegration(t)
	docs := httptest.NewServer(statelessHandler(newDocsServer()))
	defer docs.Close()
	late := &switchable{up: statelessHandler(newDocsServer()), listenRefused: make(chan struct{}, 1)}
	lateServer := httptest.NewServer(late)
	defer func() { // the gateway's listen on late lasts as long as the client's
		lateServer.CloseClientConnections()
		lateServer.Close()
	}()
	base := startProxy(t, fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		server docs {
			http %s
		}
		server late {
			http %s
		}
	}
}
`, caddyfileQuote(docs.URL), caddyfileQuote(lateServer.URL)))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	changed := make(chan struct{}, 1)
	client := mcp.NewClient(&mcp.Implementation{Name: "caddytest-federation-rejoin", Version: "0"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case changed <- struct{}{}:
			default:
			}
		},
	})
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if res := cs.InitializeResult(); res.ProtocolVersion != "2026-07-28" {
		t.Fatalf("discover: version %q, want 2026-07-28", res.ProtocolVersion)
	}
	if tools := toolNames(ctx, t, cs); !slices.Contains(tools, "docs_echo") || slices.Contains(tools, "late_echo") {
		t.Fatalf("tools while late is down: %v", tools)
	}
	select { // the client's listen reached late, which refused it
	case <-late.listenRefused:
	case <-ctx.Done():
		t.Fatal("the client's listen never reached late")
	}
	late.serving.Store(true)
	select {
	case <-changed:
	case <-ctx.Done():
		t.Fatal("no tools/list_changed on the listen once late served")
	}
	if tools := toolNames(ctx, t, cs); !slices.Contains(tools, "late_echo") {
		t.Fatalf("tools once late serves: %v", tools)
	}
	if got := callText(ctx, t, cs, "late_echo", map[string]any{"text": "back"}); got != "back" {
		t.Errorf("late_echo: %q", got)
	}

	// late goes down during the listen: the client is told, and lists
	// docs's tools alone.
	late.serving.Store(false)
	lateServer.CloseClientConnections()
	select {
	case <-changed:
	case <-ctx.Done():
		t.Fatal("no tools/list_changed on the listen once late went down")
	}
	if tools := toolNames(ctx, t, cs); !slices.Contains(tools, "docs_echo") || slices.Contains(tools, "late_echo") {
		t.Fatalf("tools once late is down again: %v", tools)
	}
}

// switchable is an MCP server over HTTP that is down (503) until serving
// is set (fault injection); a subscriptions/listen it refuses is noted on
// listenRefused.
type switchable struct {
	up            http.Handler
	serving       atomic.Bool
	listenRefused chan struct{}
}

func (s *switchable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.serving.Load() {
		s.up.ServeHTTP(w, r)
		return
	}
	if r.Header.Get("Mcp-Method") == "subscriptions/listen" {
		select {
		case s.listenRefused <- struct{}{}:
		default:
		}
	}
	http.Error(w, "down", http.StatusServiceUnavailable)
}
