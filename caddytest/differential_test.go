package caddytest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// foldingServer is a go-sdk server whose tools decode their arguments as
// most Go servers do, with encoding/json into a struct (member names
// matched by case folding). ran records what the tools did.
func foldingServer(ran *ranLog) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "folding", Version: "1"}, nil)
	object := json.RawMessage(`{"type":"object"}`)
	for _, name := range []string{"safe", "danger"} {
		s.AddTool(&mcp.Tool{Name: name, InputSchema: object}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			ran.add(name)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ran " + name}}}, nil
		})
	}
	s.AddTool(&mcp.Tool{Name: "read_file", InputSchema: object}, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args struct {
			Path string `json:"path"`
		}
		_ = json.Unmarshal(req.Params.Arguments, &args)
		ran.add("read " + args.Path)
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "read " + args.Path}}}, nil
	})
	return s
}

// ranLog is what the tools of foldingServer did.
type ranLog struct {
	mu  sync.Mutex
	ran []string
}

func (l *ranLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ran = append(l.ran, s)
}

func (l *ranLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.ran
	l.ran = nil
	return out
}

// differentialCalls are issue 20's measured bypasses of a `tools { deny
// danger }` filter and a `field /params/arguments/path ^/etc/` block, and
// the member each refusal names.
var differentialCalls = []struct{ name, params, says string }{
	{"name and Name", `{"name":"safe","Name":"danger"}`, `duplicate member \"name\" (also \"Name\") in /params`},
	{"NAME alone", `{"NAME":"danger"}`, `member \"NAME\" in /params must be spelled \"name\"`},
	{"escaped Name", `{"name":"safe","\u004eame":"danger"}`, `duplicate member \"name\" (also \"Name\")`},
	{"Path", `{"name":"read_file","arguments":{"Path":"/etc/passwd"}}`, `member \"Path\" in /params/arguments must be spelled \"path\"`},
	{"arguments and ARGUMENTS", `{"name":"read_file","arguments":{"path":"/tmp/x"},"ARGUMENTS":{"path":"/etc/passwd"}}`, `duplicate member \"arguments\" (also \"ARGUMENTS\") in /params`},
	{"argumentſ", `{"name":"read_file","argumentſ":{"path":"/etc/passwd"}}`, `must be spelled \"arguments\"`},
}

// TestParserDifferentials: through a real Caddy, mcp_proxy with `tools {
// deny danger }` and a block rule on /params/arguments/path in front of a
// go-sdk server. Each measured bypass is refused (400, -32600 naming the
// member) and the server runs nothing; the rules still work on
// well-formed calls. Before the check, {"Path":"/etc/passwd"} got past the
// block and the tool read /etc/passwd (its handler decodes arguments with
// encoding/json, as Go tools do); go-sdk v1.8 matches params.name exactly
// (it ran "safe" for the name cases), but a server that decodes params
// with encoding/json runs "danger" for them, as issue 20 measured.
func TestParserDifferentials(t *testing.T) {
	var ran ranLog
	up := httptest.NewServer(statelessHandler(foldingServer(&ran)))
	defer up.Close()
	url := startProxy(t, pipelineSite("http "+caddyfileQuote(up.URL),
		"tools {\n\tdeny danger\n}",
		"intercept no-etc {\n\ttool read_file\n\tfield /params/arguments/path ^/etc/\n\tblock \"not under /etc\"\n}")) + "/mcp"
	c := &http.Client{}
	sid := openSession(t, c, url)
	call := func(params string) string {
		return `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":` + params + `}`
	}
	for _, tc := range differentialCalls {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := mcpPost(t, c, url, sid, call(tc.params))
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"code":-32600`) || !strings.Contains(body, tc.says) {
				t.Errorf("status %d %s; want 400, -32600 saying %s", resp.StatusCode, body, tc.says)
			}
			if got := ran.take(); len(got) > 0 {
				t.Errorf("the server ran %v", got)
			}
		})
	}
	// The rules themselves, on well-formed calls.
	for _, tc := range []struct{ params, want string }{
		{`{"name":"safe"}`, `ran safe`},
		{`{"name":"danger"}`, `unknown tool`},
		{`{"name":"read_file","arguments":{"path":"/etc/passwd"}}`, `not under /etc`},
		{`{"name":"read_file","arguments":{"path":"/tmp/x"}}`, `read /tmp/x`},
	} {
		if resp, body := mcpPost(t, c, url, sid, call(tc.params)); resp.StatusCode != http.StatusOK || !strings.Contains(body, tc.want) {
			t.Errorf("%s: status %d %s, want %q", tc.params, resp.StatusCode, body, tc.want)
		}
	}
	if got := strings.Join(ran.take(), ","); got != "safe,read /tmp/x" {
		t.Errorf("the server ran %q, want the safe tool and /tmp/x", got)
	}
}

// TestParserDifferentialsMatcher: the mcp matcher in front of
// reverse_proxy (no mcp_proxy) guards a tool with `respond 403`; a message
// whose tool the server reads otherwise ends the route with 400, so the
// server never runs it.
func TestParserDifferentialsMatcher(t *testing.T) {
	var ran ranLog
	up := httptest.NewServer(statelessHandler(foldingServer(&ran)))
	defer up.Close()
	url := startProxy(t, siteAddr+" {\n\tbind 127.0.0.1\n\t@danger mcp {\n\t\ttool danger\n\t}\n\trespond @danger 403\n\treverse_proxy "+
		strings.TrimPrefix(up.URL, "http://")+"\n}\n") + "/mcp"
	c := &http.Client{}
	call := func(params string) string {
		return `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":` + params + `}`
	}
	for _, params := range []string{`{"name":"safe","Name":"danger"}`, `{"NAME":"danger"}`, `{"name":"safe","\u004eame":"danger"}`} {
		if resp, body := mcpPostVersion(t, c, url, "", "2025-06-18", call(params)); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d %s, want 400", params, resp.StatusCode, body)
		}
	}
	if resp, body := mcpPostVersion(t, c, url, "", "2025-06-18", call(`{"name":"danger"}`)); resp.StatusCode != http.StatusForbidden {
		t.Errorf("danger: status %d %s, want 403", resp.StatusCode, body)
	}
	if resp, body := mcpPostVersion(t, c, url, "", "2025-06-18", call(`{"name":"safe"}`)); resp.StatusCode != http.StatusOK || !strings.Contains(body, "ran safe") {
		t.Errorf("safe: status %d %s, want it run", resp.StatusCode, body)
	}
	if got := strings.Join(ran.take(), ","); got != "safe" {
		t.Errorf("the server ran %q, want only the safe tool", got)
	}
}

// TestParserDifferentialsAuthScopes: mcp_auth with a scope rule for tool
// danger in front of reverse_proxy (no mcp_proxy behind it to refuse
// anything). A body whose tool or method a server could read otherwise
// than mcp_auth, or that mcp_auth cannot read at all, is refused with 400
// instead of passing with required_scopes only: before, a "Method" spelled
// so reached the server with a token lacking the scope.
func TestParserDifferentialsAuthScopes(t *testing.T) {
	var ran ranLog
	up := httptest.NewServer(statelessHandler(foldingServer(&ran)))
	defer up.Close()
	as := startAuthServer(t)
	startProxy(t, siteAddr+` {
	bind 127.0.0.1
	mcp_auth {
		resource `+authResource+`
		issuer `+as.URL+`
		scopes_supported `+authScope+` `+progressScope+`
		required_scopes `+authScope+`
		scope `+progressScope+` {
			tool danger
		}
	}
	reverse_proxy `+strings.TrimPrefix(up.URL, "http://")+`
}
`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := as.Token("alice", authResource, time.Hour, authScope)
	if err != nil {
		t.Fatal(err)
	}
	narrow := "Bearer " + s
	call := func(params string) string {
		return `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":` + params + `}`
	}
	for _, tc := range []struct{ name, body, says string }{
		{"name and Name", call(`{"name":"safe","Name":"danger"}`), `duplicate member \"name\" (also \"Name\")`},
		{"NAME alone", call(`{"NAME":"danger"}`), `must be spelled \"name\"`},
		{"Method", `{"jsonrpc":"2.0","id":2,"Method":"tools/call","params":{"name":"danger"}}`, `must be spelled \"method\"`},
		{"not JSON", `{"jsonrpc":`, `parse error`},
	} {
		if resp, body := authPost(ctx, t, authResource, narrow, "", tc.body); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.says) {
			t.Errorf("%s: status %d %s, want 400 saying %s", tc.name, resp.StatusCode, body, tc.says)
		}
	}
	if resp, body := authPost(ctx, t, authResource, narrow, "", call(`{"name":"danger"}`)); resp.StatusCode != http.StatusForbidden {
		t.Errorf("danger with a narrow token: status %d %s, want 403", resp.StatusCode, body)
	}
	if resp, body := authPost(ctx, t, authResource, narrow, "", call(`{"name":"safe"}`)); resp.StatusCode != http.StatusOK || !strings.Contains(body, "ran safe") {
		t.Errorf("safe: status %d %s, want it run", resp.StatusCode, body)
	}
	if got := strings.Join(ran.take(), ","); got != "safe" {
		t.Errorf("the server ran %q, want only the safe tool", got)
	}
}
