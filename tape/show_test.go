package tape

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestShow: the transcript names each message as an operator reads it
// (method and tool, or which request an answer is for), points the arrow
// the way the message went, says what the pipeline did when it did
// anything, and cuts long bodies with their size.
func TestShow(t *testing.T) {
	start := time.Date(2026, 12, 2, 1, 54, 34, 123e6, time.UTC)
	long := `{"text":"` + strings.Repeat("é", 100) + `"}`
	f := &File{
		Name:  "s.jsonl",
		Parts: 2,
		Header: Header{Tape: FormatVersion, Endpoint: "docs", Upstream: "everything",
			ProtocolVersion: "2025-11-25", Start: start},
		Records: []Record{
			{OffsetMicros: 1250, Dir: ClientToServer, Msg: json.RawMessage(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"x":1}}}`),
				Pipeline: Outcome{Action: Passed}},
			{OffsetMicros: 9800, Dir: ServerToClient, Msg: json.RawMessage(`{"jsonrpc":"2.0","id":1,"result":` + long + `}`),
				Pipeline: Outcome{Action: Passed}},
			{OffsetMicros: 12000, Dir: ClientToServer, Msg: json.RawMessage(`{"jsonrpc":"2.0","id":"b","method":"prompts/get","params":{"name":"p"}}`),
				Pipeline: Outcome{Action: Held, Stage: "review", Ended: "released"}},
			{OffsetMicros: 13000, Dir: ServerToClient, Msg: json.RawMessage(`{"jsonrpc":"2.0","id":"b","error":{"code":-32600,"message":"no"}}`),
				Pipeline: Outcome{Action: Generated}},
			{OffsetMicros: 14000, Dir: ClientToServer, Msg: json.RawMessage(`{"jsonrpc":"2.0","method":"notifications/initialized"}`),
				Pipeline: Outcome{Action: Blocked, Stage: "deny-all"}},
			{OffsetMicros: 15000, Dir: ClientToServer, Msg: json.RawMessage(`not json`)},
		},
		Truncated: true,
	}
	var b strings.Builder
	if err := Show(&b, f); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	want := []struct{ prefix, contains string }{
		{"tape s.jsonl (format 1, 2 part(s))", ""},
		{"  endpoint docs, upstream everything, protocol 2025-11-25, user -, started 2026-12-02T01:54:34.123Z", ""},
		{"    0.001s → tools/call echo #1", `{"name":"echo","arguments":{"x":1}}`},
		{"    0.010s ← result #1", "… (211 bytes)"},
		{"    0.012s → prompts/get p #\"b\"", `[held by review, released]`},
		{"    0.013s ← error #\"b\"", `[generated]`},
		{"    0.014s → notifications/initialized", `[blocked by deny-all]`},
		{"    0.015s → ?", "not json"},
		{"  (the tape ends in an unterminated line", ""},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), b.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w.prefix) || !strings.Contains(lines[i], w.contains) {
			t.Errorf("line %d: %q\nwant prefix %q containing %q", i, lines[i], w.prefix, w.contains)
		}
	}
	if strings.Contains(lines[2], "[") {
		t.Errorf("a passed message shows an action: %q", lines[2])
	}
}

// TestTruncateKeepsRunes: a cut never splits a UTF-8 sequence.
func TestTruncateKeepsRunes(t *testing.T) {
	for _, tt := range []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc… (6 bytes)"},
		{"ééé", 3, "é… (6 bytes)"}, // byte 3 is inside the second é
		{"ééé", 4, "éé… (6 bytes)"},
	} {
		if got := truncate(tt.s, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}
