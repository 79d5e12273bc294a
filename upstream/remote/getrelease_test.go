package remote

import (
	"context"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// TestHTTPReleaseGet: ReleaseGet closes the GET stream at once, without
// the grace period (30s by default), once nobody listens; while someone
// does it changes nothing: the stream still carries the server's messages.
func TestHTTPReleaseGet(t *testing.T) {
	p, srv := startGoSDKPeer(t, &mcp.StreamableHTTPOptions{})
	h := newTestHTTP(t, Config{URL: p.srv.URL})
	rec := newHTTPRecorder()
	c := openConn(t, h, rec)
	handshake(t, c, rec, "2025-11-25")
	l, r := c.(upstream.Listener), c.(upstream.GetReleaser)

	l.Listen(true)
	l.Listen(true)
	eventually(t, "the GET stream opens", func() bool { return p.activeGets.Load() == 1 })
	r.ReleaseGet()
	l.Listen(false)
	r.ReleaseGet() // one listener left
	mcp.AddTool(srv, &mcp.Tool{Name: "late"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{}, nil, nil
	})
	rec.waitFor(t, 1, func(d delivery) bool { return d.m.Method == "notifications/tools/list_changed" })

	l.Listen(false)
	r.ReleaseGet()
	eventually(t, "the GET stream closes without the grace period", func() bool { return p.activeGets.Load() == 0 })
	l.Listen(true)
	eventually(t, "the GET stream reopens", func() bool { return p.activeGets.Load() == 1 })
	if n := len(p.requests(http.MethodGet)); n != 2 {
		t.Fatalf("%d GETs, want 2", n)
	}
}

// TestHTTPGetConflictLogged: a server that holds the session's standalone
// stream for another connection (409; in a cluster, another instance
// letting go of it) is asked again; the first refusals are logged at debug
// level, a streak of them as a warning, once.
func TestHTTPGetConflictLogged(t *testing.T) {
	const refusals = conflictWarnAfter + 1
	var gets atomic.Int32
	p := startPeer(t, fakeServer(func(w http.ResponseWriter, r *http.Request, _ *pipeline.Message) {
		if gets.Add(1) <= refusals {
			http.Error(w, "stream ID conflicts with ongoing stream", http.StatusConflict)
			return
		}
		startSSE(w)
		writeSSE(w, ": ok\n\n")
		<-r.Context().Done()
	}))
	core, logs := observer.New(zap.DebugLevel)
	h := newTestHTTP(t, Config{URL: p.srv.URL, Logger: zap.New(core)})
	rec := newHTTPRecorder()
	c := openConn(t, h, rec)
	handshake(t, c, rec, "2025-11-25")
	c.(upstream.Listener).Listen(true)
	eventually(t, "the GET stream opens after the refusals", func() bool { return p.activeGets.Load() == 1 })

	var levels []zapcore.Level
	for _, e := range logs.All() {
		switch e.Message {
		case "opening the upstream GET stream failed; retrying with backoff":
			t.Errorf("a 409 logged as a failure: %v", e.Context)
		case "the upstream holds this session's standalone stream for another connection (409; in a cluster, another instance that still holds it); retrying with backoff":
			levels = append(levels, e.Level)
		}
	}
	want := []zapcore.Level{zap.DebugLevel, zap.DebugLevel, zap.DebugLevel, zap.WarnLevel, zap.DebugLevel}
	if !slices.Equal(levels, want) {
		t.Fatalf("the refusals were logged at %v, want %v", levels, want)
	}
}
