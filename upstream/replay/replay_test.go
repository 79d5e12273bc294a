package replay

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/tape"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// collector is the client side of a replayed connection.
type collector struct {
	mu  sync.Mutex
	got []string
	ch  chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 1000)} }

func (c *collector) Deliver(m *pipeline.Message) { c.DeliverRelated(m, nil) }
func (c *collector) DeliverRelated(m *pipeline.Message, related json.RawMessage) {
	c.mu.Lock()
	s := string(m.Raw)
	if related != nil {
		s += " @" + string(related)
	}
	c.got = append(c.got, s)
	c.mu.Unlock()
	c.ch <- struct{}{}
}
func (c *collector) Closed(error) {}

// wait waits (bounded) for n more messages and returns them.
func (c *collector) wait(t *testing.T, n int) []string {
	t.Helper()
	c.mu.Lock()
	start := len(c.got)
	c.mu.Unlock()
	for range n {
		select {
		case <-c.ch:
		case <-time.After(5 * time.Second):
			c.mu.Lock()
			defer c.mu.Unlock()
			t.Fatalf("waited for %d messages, have %v", n, c.got[start:])
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = start
	return append([]string(nil), c.got[len(c.got)-n:]...)
}

func rec(dir, msg string) tape.Record {
	return tape.Record{Dir: dir, Msg: json.RawMessage(msg), Pipeline: tape.Outcome{Action: tape.Passed}}
}

// sessionTape is a recorded session: initialize, two calls of the same
// tool with the same arguments answered differently, a call with
// progress, a server notification after initialized.
func sessionTape() *tape.File {
	c, s := tape.ClientToServer, tape.ServerToClient
	return &tape.File{Name: "20261202T010000Z-abc.jsonl", Records: []tape.Record{
		rec(c, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","clientInfo":{"name":"old"}}}`),
		rec(s, `{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-06-18"}}`),
		rec(c, `{"jsonrpc":"2.0","method":"notifications/initialized"}`),
		rec(s, `{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`),
		rec(c, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"roll","arguments":{"sides":6}}}`),
		rec(s, `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"4"}]}}`),
		rec(c, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"roll","arguments":{"sides":6}}}`),
		rec(s, `{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"2"}]}}`),
		rec(c, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"slow","arguments":{},"_meta":{"progressToken":"t-old"}}}`),
		rec(s, `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t-old","progress":1}}`),
		rec(s, `{"jsonrpc":"2.0","id":3,"result":{"content":[]}}`),
		rec(c, `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"secret","arguments":{"key":"recorded-secret"}}}`),
		rec(s, `{"jsonrpc":"2.0","id":4,"result":{"content":[]}}`),
	}}
}

func openReplay(t *testing.T, match string, files ...*tape.File) (*collector, func(string)) {
	t.Helper()
	r, err := New(Config{Tapes: files, Name: files[0].Name, Match: match})
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector()
	conn, err := r.Open(context.Background(), col)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return col, func(msg string) {
		m, err := pipeline.Parse([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReplayParams(t *testing.T) {
	col, send := openReplay(t, MatchParams, sessionTape())
	send(`{"jsonrpc":"2.0","id":"a","method":"initialize","params":{"protocolVersion":"2025-11-25","clientInfo":{"name":"new"}}}`)
	if got := col.wait(t, 1); got[0] != `{"jsonrpc":"2.0","id":"a","result":{"protocolVersion":"2025-06-18"}} @"a"` {
		t.Fatalf("initialize, matched on method alone, id rewritten: %v", got)
	}
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	if got := col.wait(t, 1); got[0] != `{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}` {
		t.Fatalf("the notification where it stood: %v", got)
	}
	send(`{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"roll","arguments":{"sides":6},"_meta":{"x":1}}}`)
	send(`{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"arguments":{"sides":6},"name":"roll"}}`)
	got := col.wait(t, 2)
	if !strings.Contains(got[0], `"id":10,"result":{"content":[{"type":"text","text":"4"}]}`) ||
		!strings.Contains(got[1], `"id":11,"result":{"content":[{"type":"text","text":"2"}]}`) {
		t.Fatalf("repeated calls are answered in recorded order: %v", got)
	}
	send(`{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"slow","arguments":{},"_meta":{"progressToken":99}}}`)
	got = col.wait(t, 2)
	if !strings.Contains(got[0], `"progressToken":99`) || !strings.HasSuffix(got[0], "@12") || !strings.Contains(got[1], `"id":12,`) {
		t.Fatalf("progress with the client's token on the request's stream, then the answer: %v", got)
	}
	send(`{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":"roll","arguments":{"sides":6}}}`)
	send(`{"jsonrpc":"2.0","id":14,"method":"tools/call","params":{"name":"secret","arguments":{"key":"other"}}}`)
	got = col.wait(t, 2)
	for i, id := range []string{"13", "14"} {
		var e struct {
			ID    json.RawMessage
			Error pipeline.ErrorObject
		}
		if err := json.Unmarshal([]byte(strings.SplitN(got[i], " @", 2)[0]), &e); err != nil {
			t.Fatal(err)
		}
		if string(e.ID) != id || e.Error.Code != CodeNoMatch || !strings.Contains(e.Error.Message, `tape "20261202T010000Z-abc.jsonl"`) ||
			!strings.Contains(e.Error.Message, "tools/call of tool") {
			t.Fatalf("unmatched request %s: %s", id, got[i])
		}
		if strings.Contains(got[i], "recorded-secret") || strings.Contains(got[i], "sides") {
			t.Fatalf("the error shows recorded arguments: %s", got[i])
		}
	}
}

func TestReplaySequenceAndStrict(t *testing.T) {
	for _, tc := range []struct {
		mode, call, want string
	}{
		{MatchSequence, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"roll","arguments":{"sides":20}}}`, `"text":"4"`},
		{MatchSequence, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"slow","arguments":{}}}`, `no recorded answer`},
		{MatchStrict, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"roll","arguments":{"sides":6}}}`, `"text":"4"`},
		{MatchStrict, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"roll","arguments":{"sides":6},"_meta":{"a":1}}}`, `no recorded answer`},
	} {
		t.Run(tc.mode+" "+tc.want, func(t *testing.T) {
			col, send := openReplay(t, tc.mode, sessionTape())
			send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}`)
			col.wait(t, 1)
			send(tc.call)
			if got := col.wait(t, 1); !strings.Contains(got[0], tc.want) {
				t.Fatalf("got %v, want %s", got, tc.want)
			}
		})
	}
}

// TestReplayDirectoryFirstMatch: a request is answered by the first tape,
// in order, that holds a match.
func TestReplayDirectoryFirstMatch(t *testing.T) {
	other := &tape.File{Name: "b.jsonl", Records: []tape.Record{
		rec(tape.ClientToServer, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`),
		rec(tape.ServerToClient, `{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}`),
	}}
	col, send := openReplay(t, MatchParams, sessionTape(), other)
	send(`{"jsonrpc":"2.0","id":7,"method":"tools/list"}`)
	if got := col.wait(t, 1); !strings.Contains(got[0], `"id":7,"result":{"tools":[]}`) {
		t.Fatalf("got %v", got)
	}
}

func TestReplayConfigErrors(t *testing.T) {
	if _, err := New(Config{Tapes: []*tape.File{sessionTape()}, Match: "fuzzy"}); err == nil || !strings.Contains(err.Error(), "params, sequence or strict") {
		t.Fatalf("bad match: %v", err)
	}
	if _, err := New(Config{}); err == nil {
		t.Fatal("no tapes must be an error")
	}
	if _, _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no tapes") {
		t.Fatalf("an empty directory: %v", err)
	}
}

// TestReplayServerRequestRoundTrip: a call during which the server asked
// the client (sampling) is answered only once the client answered.
func TestReplayServerRequestRoundTrip(t *testing.T) {
	c, s := tape.ClientToServer, tape.ServerToClient
	f := &tape.File{Name: "sampling.jsonl", Records: []tape.Record{
		rec(c, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ask","arguments":{}}}`),
		rec(s, `{"jsonrpc":"2.0","id":0,"method":"sampling/createMessage","params":{"messages":[]}}`),
		rec(c, `{"jsonrpc":"2.0","id":0,"result":{"role":"assistant","content":{"type":"text","text":"ok"}}}`),
		rec(s, `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"the model said ok"}]}}`),
	}}
	col, send := openReplay(t, MatchParams, f)
	send(`{"jsonrpc":"2.0","id":"c1","method":"tools/call","params":{"name":"ask","arguments":{}}}`)
	if got := col.wait(t, 1); got[0] != `{"jsonrpc":"2.0","id":0,"method":"sampling/createMessage","params":{"messages":[]}} @"c1"` {
		t.Fatalf("want the server's request on the call's stream first, got %v", got)
	}
	// A ping goes through the same queue: once it is answered, whatever
	// the call's step delivers has been delivered.
	send(`{"jsonrpc":"2.0","id":"p","method":"ping"}`)
	if got := col.wait(t, 1); got[0] != `{"jsonrpc":"2.0","id":"p","result":{}} @"p"` {
		t.Fatalf("the answer came before the client answered the server's request: %v", got)
	}
	send(`{"jsonrpc":"2.0","id":0,"result":{"role":"assistant","content":{"type":"text","text":"whatever"}}}`)
	if got := col.wait(t, 1); got[0] != `{"jsonrpc":"2.0","id":"c1","result":{"content":[{"type":"text","text":"the model said ok"}]}} @"c1"` {
		t.Fatalf("want the call's answer with the client's id, got %v", got)
	}
}
