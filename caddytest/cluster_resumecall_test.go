package caddytest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestClusterResumeCallProcesses: a go-sdk client (default settings) calls
// a slow tool through instance a; after the tool's first progress a is
// killed (kill -9) while the tool runs on, its server (go-sdk, with an
// event store) keeping its events. The client resumes the call's stream,
// with the sealed Last-Event-ID a gave, on b, which never saw the call: the
// call's result reaches the client, as written by the endpoint's
// to_client intercept rule on that tool (b's stages judge the answer
// knowing the request it answers) — on an endpoint of one server and on a
// federated one of two (whose server knows the call by a's request id). When the
// server keeps no events the answer cannot be had: the call fails at once
// with the gateway's error, which says to send it again.
func TestClusterResumeCallProcesses(t *testing.T) {
	requireIntegration(t)
	for _, c := range []struct {
		name, tool, upstream string
		keep                 bool // the server keeps its events
	}{
		{"one server", "slow", "http %s", true},
		{"federated", "alpha_slow", "server alpha {\n\t\t\thttp %[1]s\n\t\t}\n\t\tserver beta {\n\t\t\thttp %[1]s\n\t\t}", true},
		{"no events kept", "slow", "http %s", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			up, free := slowToolServer(t, c.keep)
			lines := fmt.Sprintf(c.upstream, up) + "\n\t\tintercept judged {\n\t\t\tdirection to_client\n\t\t\ttool " + c.tool +
				"\n\t\t\tset /result/content/0/text `\"judged\"`\n\t\t}\n"
			key := clusterKey()
			a := startClusterSite(t, key, lines)
			b := startClusterSite(t, key, lines)
			lb := newPinnedBalancer(t, a)

			progressed := make(chan struct{}, 4)
			ctx := context.Background()
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, &mcp.ClientOptions{
				ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) { progressed <- struct{}{} },
			}).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: lb.URL + "/mcp"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			if _, err := cs.ListTools(ctx, nil); err != nil { // a federation learns its names
				t.Fatal(err)
			}
			type answer struct {
				res *mcp.CallToolResult
				err error
			}
			done := make(chan answer, 1)
			go func() {
				p := &mcp.CallToolParams{Name: c.tool}
				p.SetProgressToken("p")
				res, err := cs.CallTool(ctx, p)
				done <- answer{res, err}
			}()
			select {
			case <-progressed:
			case got := <-done:
				t.Fatalf("the call ended before its progress: %+v, %v", got.res, got.err)
			case <-time.After(60 * time.Second): // a hang guard
				t.Fatal("no progress reached the client")
			}

			gate := make(chan struct{})
			lb.gate.Store(&gate)
			lb.to.Store(b)
			if err := a.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			<-a.exited
			free()
			close(gate)
			select {
			case got := <-done:
				if !c.keep {
					if got.err == nil || !strings.Contains(got.err.Error(), "send the request again") {
						t.Fatalf("the call answered %+v, %v; want the gateway's error", got.res, got.err)
					}
					return
				}
				if got.err != nil {
					t.Fatalf("the call failed: %v", got.err)
				}
				if len(got.res.Content) == 0 {
					t.Fatalf("the call answered %+v", got.res)
				}
				if text := got.res.Content[0].(*mcp.TextContent).Text; text != "judged" {
					t.Fatalf("the call answered %q, want the rule's \"judged\"", text)
				}
			case <-time.After(60 * time.Second): // a hang guard
				t.Fatal("the call's answer never arrived")
			}
		})
	}
}

// slowToolServer is a go-sdk server over Streamable HTTP, keeping its
// events if keep, with one tool, slow, that sends a progress, waits for
// free, then answers "done".
func slowToolServer(t *testing.T, keep bool) (url string, free func()) {
	t.Helper()
	release := make(chan struct{})
	var once sync.Once
	free = func() { once.Do(func() { close(release) }) }
	srv := mcp.NewServer(&mcp.Implementation{Name: "slow", Version: "1"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: "slow"}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: req.Params.GetProgressToken(), Progress: 1})
		<-release
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done"}}}, nil, nil
	})
	opts := &mcp.StreamableHTTPOptions{}
	if keep {
		opts.EventStore = mcp.NewMemoryEventStore(nil)
	}
	up := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, opts))
	t.Cleanup(func() {
		free()
		up.Close()
		for ss := range srv.Sessions() {
			_ = ss.Close()
		}
	})
	return up.URL, free
}
