package front

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------
// SSE, client side.
// ---------------------------------------------------------------------------

// sseEvent is one blank-line-terminated block of an event stream.
type sseEvent struct {
	id       string
	hasID    bool
	event    string
	data     string
	hasData  bool
	retry    string
	comments []string
}

// commentOnly reports a block without fields (a keep-alive).
func (e sseEvent) commentOnly() bool {
	return !e.hasID && !e.hasData && e.event == "" && e.retry == ""
}

// parseSSE parses an event stream as the HTML standard does: lines end in
// CRLF, LF or CR; a field's value loses one leading space; data lines join
// with LF. yield returning false stops.
func parseSSE(r io.Reader, yield func(sseEvent) bool) error {
	br := bufio.NewReader(r)
	var cur sseEvent
	dirty := false
	var dataLines []string
	for {
		line, err := readSSELine(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if line == "" {
			if dirty {
				if len(dataLines) > 0 {
					cur.hasData = true
					cur.data = strings.Join(dataLines, "\n")
				}
				if !yield(cur) {
					return nil
				}
			}
			cur, dirty, dataLines = sseEvent{}, false, nil
			continue
		}
		dirty = true
		if strings.HasPrefix(line, ":") {
			cur.comments = append(cur.comments, strings.TrimPrefix(strings.TrimPrefix(line, ":"), " "))
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			cur.id, cur.hasID = value, true
		case "event":
			cur.event = value
		case "data":
			dataLines = append(dataLines, value)
		case "retry":
			cur.retry = value
		}
	}
}

func readSSELine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			if len(b) > 0 && errors.Is(err, io.EOF) {
				return "", io.ErrUnexpectedEOF
			}
			return "", err
		}
		switch c {
		case '\n':
			return string(b), nil
		case '\r':
			if next, err := br.Peek(1); err == nil && next[0] == '\n' {
				_, _ = br.ReadByte()
			}
			return string(b), nil
		}
		b = append(b, c)
	}
}

// sseStream reads an open event stream incrementally.
type sseStream struct {
	resp   *http.Response
	events chan sseEvent
	quit   chan struct{}
	ended  chan struct{}
	err    error
}

// openStream sends r and expects a 200 event stream.
func (h *harness) openStream(t testing.TB, ctx context.Context, r req) *sseStream {
	t.Helper()
	resp := h.send(t, ctx, r)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("want a 200 event stream, got %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return newSSEStream(t, resp)
}

func newSSEStream(t testing.TB, resp *http.Response) *sseStream {
	s := &sseStream{resp: resp, events: make(chan sseEvent), quit: make(chan struct{}), ended: make(chan struct{})}
	go func() {
		defer close(s.ended)
		s.err = parseSSE(resp.Body, func(ev sseEvent) bool {
			select {
			case s.events <- ev:
				return true
			case <-s.quit:
				return false
			}
		})
	}()
	t.Cleanup(func() {
		close(s.quit)
		resp.Body.Close()
		<-s.ended
	})
	return s
}

// nextBlock returns the next block, keep-alives included.
func (s *sseStream) nextBlock(t testing.TB) sseEvent {
	t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case <-s.ended:
		t.Fatalf("the event stream ended (err %v) while an event was expected", s.err)
	case <-time.After(waitLimit):
		t.Fatalf("timed out waiting for an event")
	}
	panic("unreachable")
}

// next returns the next block that is not a keep-alive comment.
func (s *sseStream) next(t testing.TB) sseEvent {
	t.Helper()
	for {
		if ev := s.nextBlock(t); !ev.commentOnly() {
			return ev
		}
	}
}

// nextMessage returns the next event carrying a JSON-RPC message, skipping
// priming events (an id and empty data).
func (s *sseStream) nextMessage(t testing.TB) (sseEvent, rpcMsg) {
	t.Helper()
	for {
		ev := s.next(t)
		if ev.hasID && ev.data == "" {
			continue
		}
		if !ev.hasData || ev.data == "" {
			t.Fatalf("want a message event, got %+v", ev)
		}
		return ev, decodeMsg(t, []byte(ev.data))
	}
}

// expectEnd waits for the stream to end with no further event (keep-alives
// and retry hints aside).
func (s *sseStream) expectEnd(t testing.TB) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case ev := <-s.events:
			if !ev.commentOnly() && (ev.hasID || ev.hasData) {
				t.Fatalf("want the stream to end, got event %+v", ev)
			}
		case <-s.ended:
			if s.err != nil {
				t.Fatalf("the stream ended with an error: %v", s.err)
			}
			return
		case <-deadline:
			t.Fatalf("timed out waiting for the stream to end")
		}
	}
}
