package stdio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// TestStdioSendKeepsLinesWholeAndInOrder sends more than a pipe holds from
// several senders at once to a server that reads nothing at first: the
// first lines go out on the senders' goroutines, then the pipe fills, a
// write comes up short and the rest wait for the writer. Every line must
// arrive whole (the server echoes it back as a message) and each sender's
// lines in the order sent.
func TestStdioSendKeepsLinesWholeAndInOrder(t *testing.T) {
	const senders, each = 4, 100 // 400 lines of ~900 bytes: over 5 pipes full
	s := newTestStdio(t, "echo-late", 1)
	rec := newRecorder()
	conn, err := s.Open(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pad := strings.Repeat("x", 800)
	errs := make(chan error, senders)
	var wg sync.WaitGroup
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				raw := fmt.Sprintf(`{"jsonrpc":"2.0","method":"notifications/n","params":{"g":%d,"i":%d,"pad":%q}}`, g, i, pad)
				if err := conn.Send(context.Background(), mustParse(t, raw)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	next := make([]int, senders)
	for range senders * each {
		m := rec.next(t)
		var p struct{ G, I int }
		if err := json.Unmarshal(m.Params, &p); err != nil {
			t.Fatalf("echoed line %s: %v", m.Raw, err)
		}
		if p.I != next[p.G] {
			t.Fatalf("sender %d: line %d arrived when %d was due", p.G, p.I, next[p.G])
		}
		next[p.G]++
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestStdioSendFullQueueWaitsForRoom: to a server that never reads, Send
// accepts lines until the pipe and the queue of sendQueueLen are full,
// then waits for room, which here only the end of ctx or of the
// connection ends.
func TestStdioSendFullQueueWaitsForRoom(t *testing.T) {
	s := newTestStdio(t, "stall", 1)
	conn, err := s.Open(context.Background(), newRecorder())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	m := mustParse(t, fmt.Sprintf(`{"jsonrpc":"2.0","method":"notifications/n","params":{"pad":%q}}`, strings.Repeat("x", 8<<10)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sent := 0
	for ; sent < 1000; sent++ {
		if err = conn.Send(ctx, m); err != nil {
			break
		}
	}
	if !errors.Is(err, context.Canceled) || sent < sendQueueLen || sent >= 1000 {
		t.Fatalf("Send took %d lines of 8 KiB, then: %v; want at least the queue's %d, then context.Canceled", sent, err, sendQueueLen)
	}
	conn.Close()
	if err := conn.Send(context.Background(), m); !errors.Is(err, upstream.ErrClosed) {
		t.Fatalf("Send after Close: %v, want upstream.ErrClosed", err)
	}
}
