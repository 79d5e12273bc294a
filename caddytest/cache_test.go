package caddytest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/tape"
)

// cachingServer is a go-sdk MCP server over Streamable HTTP (stateless, so
// it serves 2026-07-28 and subscriptions/listen) whose results carry the
// cacheScope and ttlMs the test sets, and that counts the tools/list
// requests that reach it. Its tool add_tool adds a tool, which the go-sdk
// announces with notifications/tools/list_changed.
type cachingServer struct {
	scope atomic.Value // string
	lists atomic.Int32
	added atomic.Int32
	url   string
}

func startCachingServer(t *testing.T, scope string) *cachingServer {
	t.Helper()
	cs := &cachingServer{}
	cs.scope.Store(scope)
	s := mcp.NewServer(&mcp.Implementation{Name: "caching", Version: "1"}, &mcp.ServerOptions{
		SetCacheable: func(_ context.Context, _ mcp.Request, c *mcp.Cacheable) {
			c.CacheScope, c.TTLMs = cs.scope.Load().(string), 600000
		},
	})
	empty := func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{}, nil, nil
	}
	mcp.AddTool(s, &mcp.Tool{Name: "secret_tool"}, empty)
	mcp.AddTool(s, &mcp.Tool{Name: "add_tool"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		mcp.AddTool(s, &mcp.Tool{Name: fmt.Sprintf("added_%d", cs.added.Add(1))}, empty)
		return &mcp.CallToolResult{}, nil, nil
	})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, &mcp.StreamableHTTPOptions{Stateless: true})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			if strings.Contains(string(body), `"method":"tools/list"`) {
				cs.lists.Add(1)
			}
			r.Body = io.NopCloser(strings.NewReader(string(body)))
		}
		h.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	cs.url = "http://" + l.Addr().String() + "/mcp"
	return cs
}

// listToolsAnew connects a new 2026-07-28 go-sdk client (its own client-side
// cache empty), lists the tools and returns their names.
func listToolsAnew(ctx context.Context, t *testing.T, url string) []string {
	t.Helper()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "lister", Version: "0"}, nil).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("negotiated %q", v)
	}
	res, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

// TestCachePublicResults: through a real Caddy, a server that answers
// tools/list public with a ttlMs sees one tools/list for many clients
// within the ttl, and the hits count in caddy_mcp_cache_total; private
// answers, and public ones with `cache off`, reach it every time. A filter
// sees the cached answer as it sees the upstream's.
func TestCachePublicResults(t *testing.T) {
	const clients = 5
	filter := "tools {\n\tdeny secret_*\n}"
	for _, tc := range []struct {
		name, scope, extra string
		want               int32
	}{
		{"public", "public", "", 1},
		{"private", "private", "", clients},
		{"public-cache-off", "public", "cache off", clients},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startCachingServer(t, tc.scope)
			url := startProxy(t, pipelineSite("http "+caddyfileQuote(srv.url), "name cache-"+tc.name, filter, tc.extra)) + "/mcp"
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			before := scrape(t)
			for range clients {
				if got := listToolsAnew(ctx, t, url); !slices.Equal(got, []string{"add_tool"}) {
					t.Fatalf("tools %v, want [add_tool] (secret_tool filtered)", got)
				}
			}
			if got := srv.lists.Load(); got != tc.want {
				t.Errorf("the server got %d tools/list for %d clients, want %d", got, clients, tc.want)
			}
			// Each client's server/discover is a hit too: its result is
			// public with the same ttl.
			hits := `caddy_mcp_cache_total{endpoint="cache-` + tc.name + `",result="hit"}`
			if got := scrape(t)[hits] - before[hits]; got != float64(2*(clients-tc.want)) {
				t.Errorf("%s rose by %v, want %d", hits, got, 2*(clients-tc.want))
			}
		})
	}
}

// TestCacheInvalidatedByListChanged: a list_changed the gateway hears on a
// client's subscriptions/listen stream drops the cached tools/list, so the
// next client gets the new list from the server; a tape marks the answers
// the cache gave.
func TestCacheInvalidatedByListChanged(t *testing.T) {
	srv := startCachingServer(t, "public")
	dir := t.TempDir()
	url := startProxy(t, pipelineSite("http "+caddyfileQuote(srv.url), "name cache-invalidate", "record "+caddyfileQuote(dir))) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	changed := make(chan struct{}, 1)
	listener, err := mcp.NewClient(&mcp.Implementation{Name: "listener", Version: "0"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case changed <- struct{}{}:
			default:
			}
		},
	}).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	want := []string{"add_tool", "secret_tool"}
	for range 2 {
		if got := listToolsAnew(ctx, t, url); !slices.Equal(got, want) {
			t.Fatalf("tools %v, want %v", got, want)
		}
	}
	if n := srv.lists.Load(); n != 1 {
		t.Fatalf("the server got %d tools/list, want 1", n)
	}
	if _, err := listener.CallTool(ctx, &mcp.CallToolParams{Name: "add_tool"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-ctx.Done():
		t.Fatal("notifications/tools/list_changed never reached the listener")
	}
	want = []string{"add_tool", "added_1", "secret_tool"}
	if got := listToolsAnew(ctx, t, url); !slices.Equal(got, want) {
		t.Errorf("tools after list_changed %v, want %v", got, want)
	}
	if n := srv.lists.Load(); n != 2 {
		t.Errorf("the server got %d tools/list, want 2 (one after the list_changed)", n)
	}
	listener.Close()
	unloadProxy(t) // the recorder writes the rest of its tapes
	cached := map[bool]int{}
	tapes, _ := tape.List(dir)
	for _, path := range tapes {
		f, err := tape.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range f.Records {
			if r.Dir == tape.ServerToClient && strings.Contains(string(r.Msg), `"tools":[`) {
				cached[r.Pipeline.Cached]++
			}
		}
	}
	if cached[true] != 1 || cached[false] != 2 {
		t.Errorf("tools/list answers on the tapes by cached: %v, want 1 cached and 2 from the server", cached)
	}
}

// TestCacheFreshAfterReload: a reload (here one that changes the
// endpoint's filter) starts with an empty cache, so no client sees an
// answer kept under the old configuration.
func TestCacheFreshAfterReload(t *testing.T) {
	srv := startCachingServer(t, "public")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, filter := range []string{"tools {\n\tdeny secret_*\n}", "tools {\n\tdeny add_*\n}"} {
		url := startProxy(t, pipelineSite("http "+caddyfileQuote(srv.url), "name cache-reload", filter)) + "/mcp"
		for range 2 {
			listToolsAnew(ctx, t, url)
		}
		if n := srv.lists.Load(); n != int32(i+1) {
			t.Errorf("config %d: the server got %d tools/list in all, want %d", i+1, n, i+1)
		}
	}
}
