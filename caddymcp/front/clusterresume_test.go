package front

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestClusterResumePostStream: a tool call's stream through instance a is
// cut after its first progress; a stops; the tool goes on, its server
// keeping its events; the client resumes the stream on b with the sealed
// id of the last event it had: b reads the upstream's answer stream after
// the upstream's event id inside it, and the client gets the rest of the
// call — the second progress and the result — and nothing twice.
func TestClusterResumePostStream(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	srv := mcp.NewServer(&mcp.Implementation{Name: "slow", Version: "1"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: "slow"}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		tok := req.Params.GetProgressToken()
		_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 1})
		<-release
		_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 2})
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done"}}}, nil, nil
	})
	up := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{EventStore: mcp.NewMemoryEventStore(nil)}))
	t.Cleanup(func() {
		free()
		up.Close()
		for ss := range srv.Sessions() {
			_ = ss.Close()
		}
	})
	ring := testRing(t)
	a := newInstance(t, up.URL, &Cluster{Ring: ring, Endpoint: "api"})
	b := newInstance(t, up.URL, &Cluster{Ring: ring, Endpoint: "api"})
	tsA, tsB := httptest.NewServer(a.srv), httptest.NewServer(b.srv)
	defer tsA.Close()
	defer tsB.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, nil).
		Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: tsA.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	version := cs.InitializeResult().ProtocolVersion
	send := func(url, method, body, last string) *http.Response {
		t.Helper()
		r, _ := http.NewRequest(method, url, strings.NewReader(body))
		r.Header.Set("Accept", "application/json, text/event-stream")
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Mcp-Session-Id", cs.ID())
		r.Header.Set("Mcp-Protocol-Version", version)
		if last != "" {
			r.Header.Set("Last-Event-ID", last)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s answered %d", method, resp.StatusCode)
		}
		return resp
	}

	resp := send(tsA.URL, http.MethodPost, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"slow","arguments":{},"_meta":{"progressToken":"p"}}}`, "")
	var last sseEvent
	_ = parseSSE(resp.Body, func(ev sseEvent) bool {
		last = ev
		return ev.data == "" // the priming event first
	})
	if !strings.Contains(last.data, `"progress":1`) {
		t.Fatalf("the first event is %s", last.data)
	}
	resp.Body.Close()
	// a stops while the call is in flight (its stop waits for the call);
	// whatever of the stream a read afterwards, the server kept.
	free()
	a.stop()

	resp = send(tsB.URL, http.MethodGet, "", last.id)
	defer resp.Body.Close()
	var got []string
	_ = parseSSE(resp.Body, func(ev sseEvent) bool {
		if ev.data != "" {
			got = append(got, ev.data)
		}
		return !strings.Contains(ev.data, `"result"`)
	})
	if len(got) != 2 || !strings.Contains(got[0], `"progress":2`) || !strings.Contains(got[1], `"done"`) || !strings.Contains(got[1], `"id":7`) {
		t.Fatalf("the resumed stream carried %q", got)
	}
}
