//lint:file-ignore SA1019 the tests send log messages, deprecated from 2026-07-28 on and part of the 2025 revisions whose streams they resume.

package caddytest

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// clusterKey is a fixed cluster key, base64.
func clusterKey() string {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i*7 + 1)
	}
	return base64.StdEncoding.EncodeToString(key)
}

// countedServer is a go-sdk MCP server over Streamable HTTP with one tool,
// counting the sessions it initialized; while refuse is set it refuses
// initialize (503), as a server that is down would.
type countedServer struct {
	*httptest.Server
	inits  atomic.Int32
	refuse atomic.Bool
}

func newCountedServer(t *testing.T, name, tool string, opts *mcp.StreamableHTTPOptions) *countedServer {
	t.Helper()
	cs := &countedServer{}
	srv := mcp.NewServer(&mcp.Implementation{Name: name, Version: "1"}, &mcp.ServerOptions{
		InitializedHandler: func(context.Context, *mcp.InitializedRequest) { cs.inits.Add(1) },
	})
	mcp.AddTool(srv, &mcp.Tool{Name: tool}, func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name}}}, nil, nil
	})
	sdk := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, opts)
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cs.refuse.Load() && r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			if bytes.Contains(body, []byte(`"initialize"`)) {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		sdk.ServeHTTP(w, r)
	}))
	t.Cleanup(cs.Close)
	return cs
}

// pinnedBalancer is a reverse proxy to whichever instance the test names
// last: it stands for a balancer with no affinity whose every choice the
// test makes. While a gate is set, requests wait for it to close.
type pinnedBalancer struct {
	*httptest.Server
	to   atomic.Pointer[caddyProcess]
	gate atomic.Pointer[chan struct{}]
}

func newPinnedBalancer(t *testing.T, first *caddyProcess) *pinnedBalancer {
	lb := &pinnedBalancer{}
	lb.to.Store(first)
	proxy := &httputil.ReverseProxy{
		FlushInterval: -1,
		Rewrite: func(pr *httputil.ProxyRequest) {
			target, _ := url.Parse(lb.to.Load().base)
			pr.SetURL(target)
		},
	}
	lb.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g := lb.gate.Load(); g != nil {
			select {
			case <-*g:
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(lb.Close)
	return lb
}

// TestClusterFederatedProcesses: a federated endpoint of two go-sdk
// servers on two Caddy instances sharing a cluster key. A go-sdk client's
// session, begun on one instance, is served by the other on the same
// server sessions (each server initialized once): the merged list and both
// servers' tools, whichever instance a request lands on. A server that was
// down when the session began has no session in the id: the other
// instance gives it one of its own, and the client lists and calls it
// there.
func TestClusterFederatedProcesses(t *testing.T) {
	requireIntegration(t)
	alpha := newCountedServer(t, "alpha", "hello", nil)
	beta := newCountedServer(t, "beta", "bye", nil)
	servers := fmt.Sprintf("\t\tserver alpha {\n\t\t\thttp %s\n\t\t}\n\t\tserver beta {\n\t\t\thttp %s\n\t\t}\n", alpha.URL, beta.URL)
	key := clusterKey()
	a := startClusterSite(t, key, servers)
	b := startClusterSite(t, key, servers)
	lb := newPinnedBalancer(t, a)
	ctx := context.Background()

	connect := func() *mcp.ClientSession {
		t.Helper()
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, nil).
			Connect(ctx, &mcp.StreamableClientTransport{Endpoint: lb.URL + "/mcp", MaxRetries: -1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cs.Close() })
		return cs
	}
	tools := func(cs *mcp.ClientSession) []string {
		t.Helper()
		var names []string
		for tl, err := range cs.Tools(ctx, nil) { // a federation pages by server
			if err != nil {
				t.Fatalf("tools/list: %v", err)
			}
			names = append(names, tl.Name)
		}
		slices.Sort(names)
		return names
	}
	call := func(cs *mcp.ClientSession, tool, want string) {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool})
		if err != nil {
			t.Fatalf("call %s: %v", tool, err)
		}
		if res.IsError || len(res.Content) == 0 {
			t.Fatalf("call %s: error result %+v", tool, res.Content)
		}
		if got := res.Content[0].(*mcp.TextContent).Text; got != want {
			t.Fatalf("call %s answered %q, want %q", tool, got, want)
		}
	}

	cs := connect()
	for i, p := range []*caddyProcess{b, a, b, a, b} {
		lb.to.Store(p)
		if got := tools(cs); !slices.Equal(got, []string{"alpha_hello", "beta_bye"}) {
			t.Fatalf("turn %d: tools/list %v", i, got)
		}
		call(cs, "alpha_hello", "alpha")
		call(cs, "beta_bye", "beta")
	}
	if n, m := alpha.inits.Load(), beta.inits.Load(); n != 1 || m != 1 {
		t.Errorf("the servers initialized %d and %d sessions, want one each", n, m)
	}

	// beta is down when the next session begins on a: the id names alpha's
	// session alone, and b gives beta a session of its own.
	beta.refuse.Store(true)
	lb.to.Store(a)
	late := connect()
	beta.refuse.Store(false)
	lb.to.Store(b)
	if got := tools(late); !slices.Equal(got, []string{"alpha_hello", "beta_bye"}) {
		t.Fatalf("tools/list on b of a session that began without beta: %v", got)
	}
	call(late, "beta_bye", "beta")
	call(late, "alpha_hello", "alpha")
	if n := alpha.inits.Load(); n != 2 {
		t.Errorf("alpha initialized %d sessions, want 2 (b joined a's)", n)
	}
}

// TestClusterResumeProcesses: a go-sdk client's standalone stream through
// instance a is cut as a dies (kill -9); the upstream (go-sdk, with an
// event store) sends more while no instance listens; the client's resume,
// with the sealed Last-Event-ID a gave, lands on b, which never held the
// session and resumes the upstream's stream after the upstream's event id
// inside it: every message arrives once, in order (a resume without the
// upstream's id would get go-sdk's whole stream again, "1" first).
func TestClusterResumeProcesses(t *testing.T) {
	requireIntegration(t)
	srv := mcp.NewServer(&mcp.Implementation{Name: "logs", Version: "1"}, nil)
	sdk := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{EventStore: mcp.NewMemoryEventStore(nil)})
	var gets atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			gets.Add(1)
			defer gets.Add(-1)
		}
		sdk.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		up.Close()
		for ss := range srv.Sessions() {
			_ = ss.Close()
		}
	})
	log := func(n int) {
		t.Helper()
		for ss := range srv.Sessions() {
			if err := ss.Log(context.Background(), &mcp.LoggingMessageParams{Level: "info", Data: strconv.Itoa(n)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	key := clusterKey()
	a := startClusterSite(t, key, "\t\thttp "+up.URL+"\n")
	b := startClusterSite(t, key, "\t\thttp "+up.URL+"\n")
	lb := newPinnedBalancer(t, a)

	got := make(chan string, 16)
	ctx := context.Background()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, &mcp.ClientOptions{
		LoggingMessageHandler: func(_ context.Context, r *mcp.LoggingMessageRequest) { got <- fmt.Sprint(r.Params.Data) },
	}).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: lb.URL + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "info"}); err != nil {
		t.Fatal(err)
	}
	if !poll(30*time.Second, func() bool { return gets.Load() > 0 }) {
		t.Fatal("a never opened the upstream's GET stream")
	}
	log(1)
	if m := <-got; m != "1" {
		t.Fatalf("got %q first", m)
	}

	gate := make(chan struct{})
	lb.gate.Store(&gate)
	lb.to.Store(b)
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-a.exited
	if !poll(30*time.Second, func() bool { return gets.Load() == 0 }) {
		t.Fatal("a's upstream GET stream outlived a")
	}
	for n := 2; n <= 5; n++ {
		log(n)
	}
	close(gate)
	for want := 2; want <= 5; want++ {
		select {
		case m := <-got:
			if m != strconv.Itoa(want) {
				t.Fatalf("got %q, want %d", m, want)
			}
		case <-time.After(60 * time.Second): // a hang guard
			t.Fatalf("message %d never arrived", want)
		}
	}
}
