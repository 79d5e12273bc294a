package front

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestSSEWriterFlushesWhatItBuffered: every kind of block the front writes
// (framed by package sse) goes out in one write when flushed, and the
// connection is flushed.
func TestSSEWriterFlushesWhatItBuffered(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	sw := startSSE(rec, http.StatusOK)
	sw.event("1_0", nil)
	sw.event("1_1", []byte(`{}`))
	sw.named("endpoint", []byte("/mcp"))
	sw.comment("keepalive")
	sw.handoff("1_1_2", 1000)
	if rec.Body.Len() != 0 {
		t.Fatalf("wrote %q before the flush", rec.Body.String())
	}
	if err := sw.flush(); err != nil {
		t.Fatal(err)
	}
	want := "id: 1_0\ndata: \n\nid: 1_1\nevent: message\ndata: {}\n\nevent: endpoint\ndata: /mcp\n\n: keepalive\n\nid: 1_1_2\nretry: 1000\ndata: \n\n"
	if got := rec.Body.String(); got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
	if !rec.Flushed {
		t.Error("not flushed")
	}
}

// TestSSEHeaders: an event stream is announced, uncached, unbuffered, and
// has no length.
func TestSSEHeaders(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Length", "12")
	sw := startSSE(rec, http.StatusOK)
	if rec.Flushed {
		t.Error("headers flushed before the first event: they should share its write")
	}
	sw.event("1_0", nil)
	if err := sw.flush(); err != nil {
		t.Fatal(err)
	}
	res := rec.Result()
	if res.StatusCode != http.StatusOK {
		t.Errorf("status %d", res.StatusCode)
	}
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Content-Length": ""} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if !rec.Flushed {
		t.Error("headers not flushed with the first event")
	}
}

// TestSSERoundTrip: whatever the JSON's whitespace, a spec-compliant SSE
// parser (lines end in CRLF, LF or CR) gets back a message equal to the one
// written.
func TestSSERoundTrip(t *testing.T) {
	t.Parallel()
	for _, data := range []string{
		`{"a":1}`,
		"{\n\"a\":1\n}",
		"{\r\n\"a\":1\r\n}",
		"{\"a\":\t1 }",
		"{\"a\":1,\r\"b\":2}", // a lone CR is JSON whitespace, and an SSE line end
	} {
		t.Run(data, func(t *testing.T) {
			t.Parallel()
			if bytes.Contains([]byte(data), []byte("\r\"b")) {
			}
			rec := httptest.NewRecorder()
			sw := startSSE(rec, http.StatusOK)
			sw.event("1_1", []byte(data))
			_ = sw.flush()
			var evs []sseEvent
			if err := parseSSE(rec.Body, func(ev sseEvent) bool { evs = append(evs, ev); return true }); err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 || evs[0].id != "1_1" || evs[0].event != "message" {
				t.Fatalf("parsed %+v", evs)
			}
			var got, want any
			if err := json.Unmarshal([]byte(evs[0].data), &got); err != nil {
				t.Fatalf("data %q is not the JSON written: %v", evs[0].data, err)
			}
			_ = json.Unmarshal([]byte(data), &want)
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			if !bytes.Equal(g, w) {
				t.Errorf("data %s, want %s", g, w)
			}
		})
	}
}

// TestSSEFlushEmpty: flushing nothing writes nothing.
func TestSSEFlushEmpty(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	sw := startSSE(rec, http.StatusOK)
	if err := sw.flush(); err != nil || rec.Body.Len() != 0 {
		t.Errorf("flush of nothing: err %v, body %q", err, rec.Body.String())
	}
}
