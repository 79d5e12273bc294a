package caddytest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// progressLog keeps the progress notifications a client heard.
type progressLog struct {
	mu   sync.Mutex
	seen []mcp.ProgressNotificationParams
}

func (l *progressLog) handle(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, *req.Params)
}

// awaitCount waits (bounded) until the client heard n notifications that
// keep satisfies, and returns every notification heard so far.
func (l *progressLog) awaitCount(t *testing.T, n int, keep func(mcp.ProgressNotificationParams) bool, what string) []mcp.ProgressNotificationParams {
	t.Helper()
	var all []mcp.ProgressNotificationParams
	got := 0
	if !poll(15*time.Second, func() bool {
		l.mu.Lock()
		all = append([]mcp.ProgressNotificationParams(nil), l.seen...)
		l.mu.Unlock()
		got = 0
		for _, p := range all {
			if keep(p) {
				got++
			}
		}
		return got >= n
	}) {
		t.Fatalf("%s: the client heard %d of %d progress notifications: %+v", what, got, n, all)
	}
	return all
}

func heldProgress(p mcp.ProgressNotificationParams) bool {
	return strings.Contains(p.Message, "held by the gateway")
}

// progressServer is a stateless go-sdk server (it serves 2026-07-28
// clients) whose work tool reports progress 1/2 and 2/2 before it answers,
// and which counts the calls of its quick tool that reach it.
func progressServer(quickCalls *atomic.Int32) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "held-2026", Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "quick"}, func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
		quickCalls.Add(1)
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "quick answer"}}}, nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "work"}, func(ctx context.Context, req *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
		for i := 1; i <= 2; i++ {
			if err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
				ProgressToken: req.Params.GetProgressToken(), Progress: float64(i), Total: 2, Message: "working"}); err != nil {
				return nil, nil, err
			}
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "work done"}}}, nil, nil
	})
	return s
}

// TestPipelinePause2026: a go-sdk client that negotiates 2026-07-28
// (stateless, no session) calls tools a pause rule holds, through a real
// Caddy in front of a stateless go-sdk server. A call the admin API
// continues completes, one it blocks gets the block's error; a client that gave a progressToken hears the
// gateway's progress while held, and the server's own progress after it
// shifted past the gateway's values; a client that goes away releases its
// held call as cancelled, and the server never sees it.
func TestPipelinePause2026(t *testing.T) {
	var quickCalls atomic.Int32
	up := httptest.NewServer(statelessHandler(progressServer(&quickCalls)))
	t.Cleanup(up.Close)
	// held_progress is 50ms, not the default 10s, only so that the test
	// hears several ticks of held progress in well under a second.
	url := startProxy(t, pipelineSite("http "+caddyfileQuote(up.URL),
		"intercept approve {\n\t\t\ttool quick work\n\t\t\tpause 1m\n\t\t}",
		"held_progress 50ms")) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var progress progressLog
	cs := connectGo(ctx, t, url, "", &mcp.ClientOptions{ProgressNotificationHandler: progress.handle})
	if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("negotiated %q, want 2026-07-28", v)
	}

	// continue: the held call completes.
	pending := callAsync(ctx, cs, "quick")
	e := awaitHeld(t, "quick")
	if e.Rule != "approve" || e.Direction != "to_server" || e.Method != "tools/call" {
		t.Errorf("held entry %+v", e)
	}
	if st := decideHeld(t, e.ID, "continue", ""); st != http.StatusNoContent {
		t.Fatalf("continue: %d", st)
	}
	if o := <-pending; o.err != nil || firstText(o.res) != "quick answer" {
		t.Fatalf("continued 2026 call: %v %+v", o.err, o.res)
	}

	// block: the operator's message, in the documented error.
	pending = callAsync(ctx, cs, "quick")
	e = awaitHeld(t, "quick")
	if st := decideHeld(t, e.ID, "block", `{"message":"not now"}`); st != http.StatusNoContent {
		t.Fatalf("block: %d", st)
	}
	if e := wantRPCError(t, (<-pending).err, "blocked 2026 call"); e.Code != codeBlocked || e.Message != "not now" {
		t.Errorf("blocked 2026 call: %d %q", e.Code, e.Message)
	}

	// progress while held, then the server's, shifted.
	work := make(chan callOutcome, 1)
	go func() {
		params := &mcp.CallToolParams{Name: "work"}
		params.SetProgressToken("tok-1")
		res, err := cs.CallTool(ctx, params)
		work <- callOutcome{res, err}
	}()
	e = awaitHeld(t, "work")
	progress.awaitCount(t, 2, heldProgress, "progress while held")
	if st := decideHeld(t, e.ID, "continue", ""); st != http.StatusNoContent {
		t.Fatalf("continue work: %d", st)
	}
	if o := <-work; o.err != nil || firstText(o.res) != "work done" {
		t.Fatalf("continued work call: %v %+v", o.err, o.res)
	}
	all := progress.awaitCount(t, 2, func(p mcp.ProgressNotificationParams) bool { return p.Message == "working" }, "the server's progress")
	sort.Slice(all, func(i, j int) bool { return all[i].Progress < all[j].Progress })
	held := 0
	for _, p := range all {
		if p.ProgressToken != "tok-1" {
			t.Errorf("progress for token %v, want tok-1", p.ProgressToken)
		}
		if heldProgress(p) {
			held++
			if p.Progress != float64(held) {
				t.Errorf("held progress #%d is %v: %+v", held, p.Progress, all)
			}
		}
	}
	// The server said 1/2 and 2/2; after the gateway's n values the
	// client must see n+1/n+2 and n+2/n+2, above everything before.
	server := all[len(all)-2:]
	n := float64(held)
	if server[0].Message != "working" || server[0].Progress != n+1 || server[0].Total != n+2 ||
		server[1].Message != "working" || server[1].Progress != n+2 || server[1].Total != n+2 {
		t.Errorf("the server's progress after %d held values: %+v", held, server)
	}

	// A client that goes away releases its held call as cancelled.
	before := quickCalls.Load()
	callCtx, abandon := context.WithCancel(ctx)
	gone := callAsync(callCtx, cs, "quick")
	e = awaitHeld(t, "quick")
	abandon()
	if o := <-gone; o.err == nil {
		t.Errorf("an abandoned call succeeded: %+v", o.res)
	}
	awaitNotHeld(t, e.ID)
	if st := decideHeld(t, e.ID, "continue", ""); st != http.StatusNotFound {
		t.Errorf("continuing a call whose client left: %d, want 404", st)
	}
	if n := quickCalls.Load(); n != before {
		t.Errorf("the server saw %d calls of a call released as cancelled", n-before)
	}
}

// awaitNotHeld waits (bounded) until the admin API no longer lists id.
func awaitNotHeld(t *testing.T, id string) {
	t.Helper()
	awaitHeldList(t, "held call "+id+" to go once its client left", func(held []heldEntry) bool {
		for _, e := range held {
			if e.ID == id {
				return false
			}
		}
		return true
	})
}
