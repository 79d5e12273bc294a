package record

import (
	"context"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/tape"
)

// BenchmarkRecorderDecided is what recording costs the session per message:
// the look-up of its tape and the enqueue (the writer goroutine encodes and
// writes to a real file meanwhile; records it cannot keep up with are
// dropped and counted, which the benchmark reports).
func BenchmarkRecorderDecided(b *testing.B) {
	w := tape.NewWriter(tape.WriterOptions{Dir: b.TempDir()})
	rec := New(Config{Writer: w})
	m, _ := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"search_issues","arguments":{"repo":"caddy-mcp/caddy-mcp","query":"is:open label:bug","limit":20},"_meta":{"progressToken":"tok-42"}}}`))
	ex := &pipeline.Exchange{Direction: pipeline.ToServer, SessionID: "bench-session", ProtocolVersion: "2025-11-25"}
	ctx := context.Background()
	d := pipeline.Decision{Message: m, Verdict: pipeline.Verdict{Action: pipeline.Continue, Message: m}}
	b.ReportAllocs()
	for b.Loop() {
		rec.Decided(ctx, ex, d)
	}
	b.StopTimer()
	w.Close()
	b.ReportMetric(float64(w.Dropped())/float64(b.N), "dropped/op")
}

// BenchmarkWriterEncodeAndWrite is the writer goroutine's work per record
// (compact, redaction check, encode, one write to a real file).
func BenchmarkWriterEncodeAndWrite(b *testing.B) {
	w := tape.NewWriter(tape.WriterOptions{Dir: b.TempDir(), QueueLen: 1})
	tp := tape.NewTape(tape.Header{Session: "bench"})
	msg := []byte(`{"jsonrpc":"2.0","id":42,"result":{"content":[{"type":"text","text":"Issue #123: the upstream closes the stream early."}],"isError":false}}`)
	b.ReportAllocs()
	for b.Loop() {
		for !w.Write(tp, tape.Record{Dir: tape.ServerToClient, Msg: msg}) {
			// The queue of one is full: the writer is busy with the last record.
		}
	}
	b.StopTimer()
	w.Close()
}
