package caddytest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// mcp_auth's hide_unauthorized through a real Caddy, with the authtest
// authorization server and a go-sdk server whose tool list comes in pages
// of two (pagedServer: tool_a … tool_e).

const (
	hideScope   = "tools:b"
	promptScope = "prompts:secret"
)

// hideSite guards an http upstream serving pagedServer; tool_b needs
// hideScope; authExtra goes into mcp_auth (hide_unauthorized or nothing).
func hideSite(issuer, upstream, authExtra string) string {
	return siteAddr + ` {
	bind 127.0.0.1
	mcp_auth {
		resource ` + authResource + `
		issuer ` + issuer + `
		scopes_supported ` + authScope + ` ` + hideScope + `
		required_scopes ` + authScope + `
		scope ` + hideScope + ` {
			tool tool_b
		}
		scope ` + promptScope + ` {
			tool secret_*
			method prompts/get
		}
		` + authExtra + `
	}
	mcp_proxy /mcp {
		http ` + caddyfileQuote(upstream) + `
	}
}
`
}

// connectBearer connects the go-sdk client with token in a revision
// ("" negotiates 2026-07-28).
func connectBearer(ctx context.Context, t *testing.T, token, version string) *mcp.ClientSession {
	t.Helper()
	transport := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(transport.CloseIdleConnections)
	var so *mcp.ClientSessionOptions
	if version != "" {
		so = &mcp.ClientSessionOptions{ProtocolVersion: version}
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "caddytest-hide", Version: "0"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: authResource,
			HTTPClient: &http.Client{Transport: bearerTransport{token: token, base: transport}}}, so)
	if err != nil {
		t.Fatalf("connect with a bearer token (%q): %v", version, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// listTools fetches every page of tools/list.
func listTools(ctx context.Context, t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	var names []string
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			t.Fatalf("tools/list: %v", err)
		}
		names = append(names, tool.Name)
	}
	return names
}

// listPrompts fetches every page of prompts/list.
func listPrompts(ctx context.Context, t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	var names []string
	for p, err := range cs.Prompts(ctx, nil) {
		if err != nil {
			t.Fatalf("prompts/list: %v", err)
		}
		names = append(names, p.Name)
	}
	return names
}

// TestAuthHideUnauthorized: with hide_unauthorized, a token without the
// scope tool_b needs gets every page of tools/list without tool_b and its
// call answered -32602 as an unknown tool (not 403), and likewise the
// secret_* prompts of a prompts/get rule; a token with the scopes lists
// and calls them — for a 2025-11-25 session and 2026-07-28
// requests. Within one 2025 session, each list follows the token of the
// POST that asked. Without hide_unauthorized, tool_b stays listed and its
// call gets the 403 insufficient_scope (as in TestAuthScopePerTool).
func TestAuthHideUnauthorized(t *testing.T) {
	as := startAuthServer(t)
	up := httptest.NewServer(statelessHandler(pagedServer()))
	defer up.Close()
	tok := func(scopes ...string) string {
		s, err := as.Token("alice", authResource, time.Hour, scopes...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	narrow, wide := tok(authScope), tok(authScope, hideScope, promptScope)
	all := []string{"tool_a", "tool_b", "tool_c", "tool_d", "tool_e"}
	allButB := []string{"tool_a", "tool_c", "tool_d", "tool_e"}

	startProxy(t, hideSite(as.URL, up.URL, "hide_unauthorized"), goroutinesChecked)
	for _, version := range []string{"2025-11-25", ""} {
		name := version
		if name == "" {
			name = "2026-07-28"
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cs := connectBearer(ctx, t, narrow, version)
			if got := listTools(ctx, t, cs); !slices.Equal(got, allButB) {
				t.Errorf("narrow token: tools = %v, want %v", got, allButB)
			}
			_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "tool_b"})
			if e := wantRPCError(t, err, "narrow token calling tool_b"); e.Code != -32602 || e.Message != `unknown tool "tool_b"` {
				t.Errorf("narrow token calling tool_b: %d %q, want -32602 unknown tool", e.Code, e.Message)
			}
			if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: "tool_c"}); got != "called c" {
				t.Errorf("narrow token calling tool_c: %q", got)
			}
			if got := listPrompts(ctx, t, cs); !slices.Equal(got, []string{"public"}) {
				t.Errorf("narrow token: prompts = %v, want [public]", got)
			}
			_, err = cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "secret_one"})
			if e := wantRPCError(t, err, "narrow token getting secret_one"); e.Code != -32602 || e.Message != `unknown prompt "secret_one"` {
				t.Errorf("narrow token getting secret_one: %d %q", e.Code, e.Message)
			}

			cw := connectBearer(ctx, t, wide, version)
			if got := listTools(ctx, t, cw); !slices.Equal(got, all) {
				t.Errorf("wide token: tools = %v, want %v", got, all)
			}
			if got := callToolText(ctx, t, cw, &mcp.CallToolParams{Name: "tool_b"}); got != "called b" {
				t.Errorf("wide token calling tool_b: %q", got)
			}
			if got := listPrompts(ctx, t, cw); !slices.Equal(got, []string{"public", "secret_one", "secret_two"}) {
				t.Errorf("wide token: prompts = %v", got)
			}
			if _, err := cw.GetPrompt(ctx, &mcp.GetPromptParams{Name: "secret_one"}); err != nil {
				t.Errorf("wide token getting secret_one: %v", err)
			}
		})
	}

	t.Run("2025 session, the asking POST's token", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		resp, body := authPost(ctx, t, authResource, "Bearer "+narrow, "", authInitialize)
		session := resp.Header.Get("Mcp-Session-Id")
		if resp.StatusCode != 200 || session == "" {
			t.Fatalf("initialize: %d %s", resp.StatusCode, body)
		}
		if resp, body := authPost(ctx, t, authResource, "Bearer "+narrow, session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); resp.StatusCode != 202 {
			t.Fatalf("initialized: %d %s", resp.StatusCode, body)
		}
		firstPage := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
		for _, tc := range []struct {
			name, token string
			wantB       bool
		}{
			{"wide token on the narrow token's session", wide, true},
			{"narrow token again", narrow, false},
		} {
			resp, body := authPost(ctx, t, authResource, "Bearer "+tc.token, session, firstPage)
			if resp.StatusCode != 200 || !strings.Contains(body, `"tool_a"`) {
				t.Fatalf("%s: %d %s", tc.name, resp.StatusCode, body)
			}
			if got := strings.Contains(body, `"tool_b"`); got != tc.wantB {
				t.Errorf("%s: tool_b listed = %v, want %v: %s", tc.name, got, tc.wantB, body)
			}
		}
	})

	t.Run("without hide_unauthorized", func(t *testing.T) {
		startProxy(t, hideSite(as.URL, up.URL, ""), goroutinesChecked)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cs := connectBearer(ctx, t, narrow, "2025-11-25")
		if got := listTools(ctx, t, cs); !slices.Equal(got, all) {
			t.Errorf("narrow token: tools = %v, want %v (listed, so the client can step up)", got, all)
		}
		resp, body := authPost(ctx, t, authResource, "Bearer "+narrow, "",
			`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"tool_b"}}`)
		want := `Bearer resource_metadata="` + authMetadataURL + `", scope="` + authScope + ` ` + hideScope + `", error="insufficient_scope"`
		if resp.StatusCode != 403 || resp.Header.Get("WWW-Authenticate") != want {
			t.Errorf("narrow token calling tool_b: %d %q %s, want 403 %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body, want)
		}
	})
}

// TestAuthHideUnauthorizedListChanged: over stdio, the everything-server
// adds __transient_tool_for_list_changed and sends
// notifications/tools/list_changed; the list a token without the tool's
// scope fetches then still lacks it, and its call is unknown (-32602); a
// token with the scope sees it.
func TestAuthHideUnauthorizedListChanged(t *testing.T) {
	as := startAuthServer(t)
	const transient = "__transient_tool_for_list_changed"
	startProxy(t, siteAddr+` {
	bind 127.0.0.1
	mcp_auth {
		resource `+authResource+`
		issuer `+as.URL+`
		required_scopes `+authScope+`
		scope `+hideScope+` {
			tool __transient_*
		}
		hide_unauthorized
	}
	mcp_proxy /mcp {
		stdio `+caddyfileQuote(buildEverythingServer(t))+`
	}
}
`, goroutinesChecked)
	for _, tc := range []struct {
		name   string
		scopes []string
		listed bool
	}{
		{"without the scope", []string{authScope}, false},
		{"with the scope", []string{authScope, hideScope}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			token, err := as.Token("alice", authResource, time.Hour, tc.scopes...)
			if err != nil {
				t.Fatal(err)
			}
			changed := make(chan struct{}, 1)
			transport := http.DefaultTransport.(*http.Transport).Clone()
			t.Cleanup(transport.CloseIdleConnections)
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "caddytest-hide", Version: "0"}, &mcp.ClientOptions{
				ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
					select {
					case changed <- struct{}{}:
					default:
					}
				},
			}).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: authResource,
				HTTPClient: &http.Client{Transport: bearerTransport{token: token, base: transport}}},
				&mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer cs.Close()
			before := listTools(ctx, t, cs)
			if slices.Contains(before, transient) || !slices.Contains(before, "test_trigger_tool_change") {
				t.Fatalf("tools before the change: %v", before)
			}
			if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_trigger_tool_change"}); err != nil {
				t.Fatalf("test_trigger_tool_change: %v", err)
			}
			select {
			case <-changed:
			case <-ctx.Done():
				t.Fatal("no notifications/tools/list_changed reached the client")
			}
			after := listTools(ctx, t, cs)
			if got := slices.Contains(after, transient); got != tc.listed {
				t.Fatalf("after list_changed %s listed = %v, want %v: %v", transient, got, tc.listed, after)
			}
			_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: transient})
			if tc.listed {
				if err != nil {
					t.Fatalf("calling %s with the scope: %v", transient, err)
				}
				return
			}
			if e := wantRPCError(t, err, "calling the hidden tool"); e.Code != -32602 || e.Message != `unknown tool "`+transient+`"` {
				t.Errorf("calling the hidden tool: %d %q", e.Code, e.Message)
			}
		})
	}
}
