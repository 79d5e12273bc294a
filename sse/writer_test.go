package sse

import (
	"strings"
	"testing"
)

// TestFraming: the exact bytes of each kind of block.
func TestFraming(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		write func([]byte) []byte
		want  string
	}{
		{"message", func(b []byte) []byte { return AppendEvent(b, "2_1", []byte(`{"jsonrpc":"2.0","id":1,"result":{}}`)) },
			"id: 2_1\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n"},
		{"no id", func(b []byte) []byte { return AppendEvent(b, "", []byte(`{}`)) },
			"event: message\ndata: {}\n\n"},
		{"multi-line data", func(b []byte) []byte { return AppendEvent(b, "0_3", []byte("{\n  \"a\": 1\n}")) },
			"id: 0_3\nevent: message\ndata: {\ndata:   \"a\": 1\ndata: }\n\n"},
		{"CRLF data", func(b []byte) []byte { return AppendEvent(b, "0_4", []byte("{\r\n\"a\":1\r\n}")) },
			"id: 0_4\nevent: message\ndata: {\ndata: \"a\":1\ndata: }\n\n"},
		{"lone CR data", func(b []byte) []byte { return AppendEvent(b, "0_6", []byte("{\"a\":1,\r\"b\":2}")) },
			"id: 0_6\nevent: message\ndata: {\"a\":1,\ndata: \"b\":2}\n\n"},
		{"trailing newline", func(b []byte) []byte { return AppendEvent(b, "0_5", []byte("{}\n")) },
			"id: 0_5\nevent: message\ndata: {}\ndata: \n\n"},
		{"priming", func(b []byte) []byte { return AppendEvent(b, "7_0", nil) },
			"id: 7_0\ndata: \n\n"},
		{"named", func(b []byte) []byte { return AppendNamed(b, "endpoint", []byte("/mcp?session=x")) },
			"event: endpoint\ndata: /mcp?session=x\n\n"},
		{"comment", func(b []byte) []byte { return AppendComment(b, "keepalive") },
			": keepalive\n\n"},
		{"retry", func(b []byte) []byte { return AppendRetry(b, "0_4_9", 500) },
			"id: 0_4_9\nretry: 500\ndata: \n\n"},
		{"several appended", func(b []byte) []byte {
			b = AppendEvent(b, "1_0", nil)
			b = AppendEvent(b, "1_1", []byte(`{}`))
			return AppendRetry(b, "1_1_2", 1000)
		}, "id: 1_0\ndata: \n\nid: 1_1\nevent: message\ndata: {}\n\nid: 1_1_2\nretry: 1000\ndata: \n\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := string(tc.write([]byte("kept"))); got != "kept"+tc.want {
				t.Errorf("wrote %q, want %q after what was there", got, "kept"+tc.want)
			}
		})
	}
}

// TestFramingRoundTrip: what the writer frames, the reader gives back: the
// data with its line endings turned into LF (as any SSE parser does), the
// id, the name and the retry hint.
func TestFramingRoundTrip(t *testing.T) {
	t.Parallel()
	var body []byte
	body = AppendComment(body, "stream open")
	body = AppendEvent(body, "1_0", nil)
	body = AppendEvent(body, "1_1", []byte("{\r\n\"a\":1,\r\"b\":2\n}"))
	body = AppendNamed(body, "endpoint", []byte("/mcp?session=x"))
	body = AppendRetry(body, "1_1_2", 250)
	want := []string{
		`event="" data="" id="1_0"`,
		`event="message" data="{\n\"a\":1,\n\"b\":2\n}" id="1_1" message`,
		`event="endpoint" data="/mcp?session=x"`,
		`event="" data="" id="1_1_2" retry=250ms`,
	}
	got := readAllEvents(t, string(body), 1024)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n  %q\nwant\n  %q", got, want)
	}
}
