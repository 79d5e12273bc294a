package record

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/tape"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type userKey struct{}

func parse(t *testing.T, s string) *pipeline.Message {
	t.Helper()
	m, err := pipeline.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRecorderTapesPerSession: a chain with the recorder as its tap passes
// every message unchanged; each session gets its own tape with its header, and
// 2026-07-28 requests of one client share a tape for the day.
func TestRecorderTapesPerSession(t *testing.T) {
	dir := t.TempDir()
	w := tape.NewWriter(tape.WriterOptions{Dir: dir})
	clock := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	rec := New(Config{Writer: w, Endpoint: "docs", Upstream: "everything",
		User: func(ctx context.Context) string { u, _ := ctx.Value(userKey{}).(string); return u },
		Now:  func() time.Time { clock = clock.Add(time.Millisecond); return clock }})
	chain := pipeline.NewChain().WithTaps(rec)
	ctx := context.WithValue(context.Background(), userKey{}, "alice")
	send := func(dir pipeline.Direction, sid, version, msg string) {
		m := parse(t, msg)
		v := chain.Run(ctx, &pipeline.Exchange{Direction: dir, SessionID: sid, ProtocolVersion: version}, m)
		if v.Action != pipeline.Continue || v.Message != m {
			t.Fatalf("the recorder changed the verdict: %+v", v)
		}
	}
	send(pipeline.ToServer, "sess-A", "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}`)
	send(pipeline.ToClient, "sess-A", "2025-11-25", `{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25"}}`)
	send(pipeline.ToServer, "sess-B", "2025-06-18", `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	send(pipeline.ToServer, "", "2026-07-28", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	send(pipeline.ToServer, "", "2026-07-28", `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	w.Close()

	paths, err := tape.List(dir)
	if err != nil || len(paths) != 3 {
		t.Fatalf("want 3 tapes (two sessions, one client-day), got %v %v", paths, err)
	}
	bySession := map[string]*tape.File{}
	for _, p := range paths {
		f, err := tape.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		bySession[f.Header.Session] = f
	}
	a := bySession[SessionHash("sess-A")]
	if a == nil || len(a.Records) != 2 || a.Header.ProtocolVersion != "2025-11-25" || a.Header.User != "alice" ||
		a.Header.Endpoint != "docs" || a.Header.Upstream != "everything" {
		t.Fatalf("session A's tape: %+v", a)
	}
	if a.Records[0].Dir != tape.ClientToServer || a.Records[0].Stream != "post" || a.Records[1].Dir != tape.ServerToClient ||
		a.Records[1].OffsetMicros <= a.Records[0].OffsetMicros || a.Records[0].Pipeline.Action != tape.Passed {
		t.Fatalf("session A's records: %+v", a.Records)
	}
	day := bySession[SessionHash("2026-07-28|alice|2026-12-02")]
	if day == nil || len(day.Records) != 2 || day.Records[0].Stream != "request" {
		t.Fatalf("the client-day tape: %+v", day)
	}
}

// TestRecorderSampling: a sample of almost nothing records (almost) no
// session; a session forced on through SetRecording is recorded anyway.
func TestRecorderSampling(t *testing.T) {
	dir := t.TempDir()
	w := tape.NewWriter(tape.WriterOptions{Dir: dir})
	rec := New(Config{Writer: w, Sample: 1e-12})
	rec.SetRecording("forced", true)
	for _, sid := range []string{"s1", "s2", "s3", "forced"} {
		m := parse(t, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
		rec.Decided(context.Background(), &pipeline.Exchange{SessionID: sid},
			pipeline.Decision{Message: m, Verdict: pipeline.Verdict{Action: pipeline.Continue, Message: m}})
	}
	w.Close()
	paths, _ := tape.List(dir)
	if len(paths) != 1 {
		t.Fatalf("want only the forced session's tape, got %v", paths)
	}
	f, _ := tape.ReadFile(paths[0])
	if f.Header.Session != SessionHash("forced") {
		t.Fatalf("the tape is not the forced session's: %+v", f.Header)
	}
}
