package sse

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// readAllEvents renders every event of body as one line each.
func readAllEvents(t *testing.T, body string, max int) []string {
	t.Helper()
	r := NewReader(strings.NewReader(body), max)
	var out []string
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		s := fmt.Sprintf("event=%q data=%q", ev.Name, ev.Data)
		if ev.HasID {
			s += fmt.Sprintf(" id=%q", ev.ID)
		}
		if ev.HasRetry {
			s += " retry=" + ev.Retry.String()
		}
		if ev.TooLarge {
			s += " tooLarge"
		}
		if ev.IsMessage() {
			s += " message"
		}
		out = append(out, s)
	}
}

func TestSSEReader(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"go-sdk framing", "event: message\nid: s_1\ndata: {\"a\":1}\n\n",
			[]string{`event="message" data="{\"a\":1}" id="s_1" message`}},
		{"unnamed event is a message", "data: {}\n\n", []string{`event="" data="{}" message`}},
		{"CRLF and lone CR endings", "data: 1\r\n\r\ndata: 2\r\rdata: 3\n\n",
			[]string{`event="" data="1" message`, `event="" data="2" message`, `event="" data="3" message`}},
		{"multi-line data", "data: {\ndata: \"a\":1}\n\n", []string{`event="" data="{\n\"a\":1}" message`}},
		{"no space after colon; value may contain colons", "data:{\"u\":\"a:b\"}\n\n", []string{`event="" data="{\"u\":\"a:b\"}" message`}},
		{"comments and unknown fields skipped", ": ok\n\nfoo: bar\n: keepalive\ndata: x\n\n",
			[]string{`event="" data="x" message`}},
		{"priming event", "id: p_0\nretry: 250\ndata:\n\n", []string{`event="" data="" id="p_0" retry=250ms`}},
		{"go-sdk close event", "event: close\nretry: 10\ndata: \n\n", []string{`event="close" data="" retry=10ms`}},
		{"other event names are not messages", "event: ping\ndata: {}\n\n", []string{`event="ping" data="{}"`}},
		{"bad retry and NUL id ignored", "retry: soon\nid: a\x00b\ndata: 1\n\n", []string{`event="" data="1" message`}},
		{"empty id resets", "id:\ndata: 1\n\n", []string{`event="" data="1" id="" message`}},
		{"leading BOM", "\xEF\xBB\xBFdata: 1\n\n", []string{`event="" data="1" message`}},
		{"unterminated last event is dropped", "data: 1\n\ndata: 2\n", []string{`event="" data="1" message`}},
		{"oversized event skipped, stream goes on", "id: big\ndata: " + strings.Repeat("x", 40) + "\n\ndata: ok\n\n",
			[]string{`event="" data="" id="big" tooLarge`, `event="" data="ok" message`}},
		{"oversized across lines", "data: " + strings.Repeat("x", 20) + "\ndata: " + strings.Repeat("y", 20) + "\n\ndata: ok\n\n",
			[]string{`event="" data="" tooLarge`, `event="" data="ok" message`}},
		{"oversized single line", "data: " + strings.Repeat("x", 200) + "\r\n\r\ndata: ok\n\n",
			[]string{`event="" data="" tooLarge`, `event="" data="ok" message`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := readAllEvents(t, tc.body, 32)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got\n  %q\nwant\n  %q", got, tc.want)
			}
		})
	}
}

// An event is returned as soon as its blank line arrives: the body is
// never buffered whole.
func TestSSEReaderIsIncremental(t *testing.T) {
	pr, pw := io.Pipe()
	defer pr.Close()
	r := NewReader(pr, 1024)
	go func() {
		_, _ = io.WriteString(pw, "data: 1\n\n")
		// The writer stays open: a buffering reader would block here.
	}()
	done := make(chan string, 1)
	go func() {
		ev, err := r.Next()
		if err != nil {
			done <- err.Error()
			return
		}
		done <- string(ev.Data)
	}()
	select {
	case got := <-done:
		if got != "1" {
			t.Fatalf("got %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the event was not returned before the body ended")
	}
	pw.Close()
}

// TestReaderReset: a reader reset onto another body reads it as a new
// reader would, whatever the first left half read (a partial event, a CR
// awaiting its LF, a byte-order mark not yet seen, a smaller limit).
func TestReaderReset(t *testing.T) {
	all := func(r *Reader) []string {
		var got []string
		for {
			ev, err := r.Next()
			if err != nil {
				return append(got, "err: "+err.Error())
			}
			got = append(got, fmt.Sprintf("%q %q %q %v", ev.Name, ev.ID, ev.Data, ev.TooLarge))
		}
	}
	second := "\xEF\xBB\xBFid: 2\ndata: {\"b\":2}\n\nevent: close\ndata: x\n\n"
	for _, first := range []string{
		"id: 1\ndata: {\"a\":1}\n\ndata: half an ev",
		"data: cr\r",
		"",
		"data: " + strings.Repeat("x", 100) + "\n\n",
	} {
		r := NewReader(strings.NewReader(first), 64)
		_ = all(r)
		r.Reset(strings.NewReader(second), 1024)
		got := all(r)
		want := all(NewReader(strings.NewReader(second), 1024))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("after %q: %v, want %v", first, got, want)
		}
	}
}
