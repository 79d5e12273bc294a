package caddytest

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// clusterInstance is one `caddy run` of a cluster: an mcp_proxy at /mcp
// named api, with the cluster key in its environment, in front of url.
func startClusterInstance(t *testing.T, key, upstreamURL string) *caddyProcess {
	t.Helper()
	return startClusterSite(t, key, "http "+upstreamURL)
}

// startClusterSite is one `caddy run` of a cluster: an mcp_proxy at /mcp
// named api, with the cluster key in its environment, in front of the
// upstreams configured by lines.
func startClusterSite(t *testing.T, key, lines string) *caddyProcess {
	t.Helper()
	p := runCaddyProcess(t, "", fmt.Sprintf(`	mcp_proxy /mcp {
		name api
		cluster {
			key {env.MCP_SESSION_KEY}
		}
		%s
	}
`, lines), "MCP_SESSION_KEY="+key)
	waitProcessServing(t, p)
	return p
}

// waitProcessServing waits until p answers HTTP (any answer).
func waitProcessServing(t *testing.T, p *caddyProcess) {
	t.Helper()
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if !poll(30*time.Second, func() bool {
		resp, err := c.Get(p.base + "/ready")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	}) {
		t.Fatalf("caddy not serving %s:\n%s", p.base, p.output.String())
	}
}

// echoUpstream is a go-sdk MCP server over Streamable HTTP with one tool,
// echo, that counts the sessions it began and the DELETEs it got.
type echoUpstream struct {
	server         *httptest.Server
	inits, deletes atomic.Int32
	echoed         sync.Map // every text echoed, as a key
}

// startEchoUpstream runs an echoUpstream until the test ends.
func startEchoUpstream(t *testing.T) *echoUpstream {
	t.Helper()
	e := new(echoUpstream)
	srv := mcp.NewServer(&mcp.Implementation{Name: "echo", Version: "1"}, &mcp.ServerOptions{
		InitializedHandler: func(context.Context, *mcp.InitializedRequest) { e.inits.Add(1) },
	})
	type in struct {
		Text string `json:"text"`
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "echo"}, func(_ context.Context, _ *mcp.CallToolRequest, a in) (*mcp.CallToolResult, any, error) {
		e.echoed.Store(a.Text, true)
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: a.Text}}}, nil, nil
	})
	sdk := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	e.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			e.deletes.Add(1)
		}
		sdk.ServeHTTP(w, r)
	}))
	t.Cleanup(e.server.Close)
	return e
}

// TestClusterProcesses: two Caddy processes sharing a cluster key behind a
// round-robin balancer with no affinity serve one go-sdk client's session
// on one upstream session; stopping one of them (SIGTERM, a rolling
// restart) ends no session and sends no DELETE upstream; a tampered id is
// 404.
func TestClusterProcesses(t *testing.T) {
	requireIntegration(t)
	echo := startEchoUpstream(t)
	up := echo.server
	inits, deletes := &echo.inits, &echo.deletes

	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i * 7)
	}
	k := base64.StdEncoding.EncodeToString(key)
	a := startClusterInstance(t, k, up.URL)
	b := startClusterInstance(t, k, up.URL)

	var mu sync.Mutex
	live := []*caddyProcess{a, b}
	next := 0
	lb := httptest.NewServer(&httputil.ReverseProxy{
		FlushInterval: -1,
		Rewrite: func(pr *httputil.ProxyRequest) {
			mu.Lock()
			p := live[next%len(live)]
			next++
			mu.Unlock()
			target, _ := url.Parse(p.base)
			pr.SetURL(target)
		},
	})
	defer lb.Close()

	ctx := context.Background()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: lb.URL + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	call := func(text string) {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": text}})
		if err != nil {
			t.Fatalf("call %s: %v", text, err)
		}
		if got := res.Content[0].(*mcp.TextContent).Text; got != text {
			t.Fatalf("call %s answered %q", text, got)
		}
	}
	for _, text := range []string{"one", "two", "three", "four"} {
		call(text)
	}

	mu.Lock()
	live = []*caddyProcess{b}
	mu.Unlock()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("caddy did not exit on SIGTERM:\n%s", a.output.String())
	}
	call("after a stopped")
	if n := deletes.Load(); n != 0 {
		t.Errorf("stopping an instance sent %d DELETE upstream", n)
	}
	if n := inits.Load(); n != 1 {
		t.Errorf("the upstream saw %d sessions, want 1", n)
	}

	raw, _ := base64.RawURLEncoding.DecodeString(cs.ID())
	raw[len(raw)-1] ^= 1
	resp := rawRequest(t, http.MethodPost, lb.URL+"/mcp", `{"jsonrpc":"2.0","id":9,"method":"ping"}`, map[string]string{
		"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
		"Mcp-Session-Id": base64.RawURLEncoding.EncodeToString(raw), "Mcp-Protocol-Version": "2025-06-18"})
	readAll(t, resp)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("a tampered id answered %d", resp.StatusCode)
	}
}
