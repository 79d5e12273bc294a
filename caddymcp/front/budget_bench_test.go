package front

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// idleNotifications is what a typical server sends on a session's GET
// stream while its client does not listen: a list change and log lines.
var idleNotifications = []*pipeline.Message{
	pipeline.NewNotification("notifications/tools/list_changed", nil),
	pipeline.NewNotification("notifications/message", json.RawMessage(`{"level":"info","logger":"everything","data":"Info-level message"}`)),
	pipeline.NewNotification("notifications/message", json.RawMessage(`{"level":"warning","logger":"everything","data":"Warning-level message"}`)),
	pipeline.NewNotification("notifications/resources/updated", json.RawMessage(`{"uri":"test://static/resource/1"}`)),
	pipeline.NewNotification("notifications/message", json.RawMessage(`{"level":"error","logger":"everything","data":"Error-level message"}`)),
}

// BenchmarkIdleSessionReplay measures what an idle session holds: one
// initialize, one answered tools/call, then the server's idleNotifications
// on a GET stream nobody listens to. replay-B/session is what
// replay_budget counts, heap-B/session the whole session (its upstream
// here is the in-process echo, so no process or socket is in it).
func BenchmarkIdleSessionReplay(b *testing.B) {
	store := NewStore(Limits{}, nil)
	b.Cleanup(func() { store.Close("benchmark done") })
	srv, err := New(Config{Upstream: echoUpstream{}, Store: store})
	if err != nil {
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n := 0
	for b.Loop() {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, benchRequest(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}`, "", ""))
		id := w.Header().Get("Mcp-Session-Id")
		if w.Code != http.StatusOK || id == "" {
			b.Fatalf("initialize: %d %s", w.Code, w.Body)
		}
		w = httptest.NewRecorder()
		srv.ServeHTTP(w, benchRequest(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}`, id, Version20250618))
		if w.Code != http.StatusOK {
			b.Fatalf("tools/call: %d %s", w.Code, w.Body)
		}
		sess := store.get(id)
		for _, m := range idleNotifications {
			own, err := pipeline.Parse(m.Raw) // each session's own copy, as from an upstream
			if err != nil {
				b.Fatal(err)
			}
			sess.Deliver(own)
		}
		n++
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(store.ReplayHeld())/float64(n), "replay-B/session")
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(n), "heap-B/session")
}

// BenchmarkReplayEventHeld measures the heap one held event costs besides
// its raw bytes (which is all replay_budget counts): the parsed message
// and its slot in the buffer.
func BenchmarkReplayEventHeld(b *testing.B) {
	raw := []byte(`{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","logger":"everything","data":"Info-level message"}}`)
	budget := newReplayBudget(zap.NewNop())
	st := budget.newStream(1, replayLimits{events: 1 << 30, bytes: 1 << 40})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n := 0
	for b.Loop() {
		m, err := pipeline.Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		st.append(m)
		n++
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perEvent := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
	b.ReportMetric(perEvent-float64(len(raw)), "overhead-B/event")
	runtime.KeepAlive(st)
}

// BenchmarkStreamAppend measures the append hot path with and without a
// budget (under it: one stamp and one atomic add more).
func BenchmarkStreamAppend(b *testing.B) {
	m := pipeline.NewNotification("notifications/message", json.RawMessage(`{"level":"info","data":"x"}`))
	for _, tc := range []struct {
		name   string
		budget *replayBudget
	}{{"no budget", nil}, {"under budget", newReplayBudget(zap.NewNop())}} {
		b.Run(tc.name, func(b *testing.B) {
			if tc.budget != nil {
				tc.budget.setLimit(1 << 40)
			}
			st := tc.budget.newStream(1, replayLimits{events: 512, bytes: 1 << 20})
			b.ReportAllocs()
			for b.Loop() {
				st.append(m)
			}
		})
	}
}
