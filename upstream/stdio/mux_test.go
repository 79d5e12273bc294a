package stdio

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// fakeProc is a process made of pipes: the test plays the server, reading
// what the mux writes and writing what the server says.
type fakeProc struct {
	inR, outR *io.PipeReader
	inW, outW *io.PipeWriter
	lines     *bufio.Reader
	done      chan struct{}
	once      sync.Once
}

func newFakeProc() *fakeProc {
	f := &fakeProc{done: make(chan struct{})}
	f.inR, f.inW = io.Pipe()
	f.outR, f.outW = io.Pipe()
	f.lines = bufio.NewReader(f.inR)
	return f
}

func (f *fakeProc) Stdin() io.WriteCloser { return f.inW }
func (f *fakeProc) Stdout() io.Reader     { return f.outR }
func (f *fakeProc) Done() <-chan struct{} { return f.done }
func (f *fakeProc) Err() error            { return nil }
func (f *fakeProc) PID() int              { return 4242 }
func (f *fakeProc) Release()              { f.exit() }

// exit is the process dying: both pipes close.
func (f *fakeProc) exit() {
	f.once.Do(func() {
		_ = f.inR.Close()
		_ = f.outW.Close()
		close(f.done)
	})
}

// read returns the next line the mux wrote.
func (f *fakeProc) read(t *testing.T) string {
	t.Helper()
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := f.lines.ReadString('\n')
		ch <- res{s, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("reading the mux's output: %v", r.err)
		}
		return strings.TrimSuffix(r.s, "\n")
	case <-time.After(5 * time.Second):
		t.Fatal("the mux wrote nothing within 5s")
		return ""
	}
}

func (f *fakeProc) write(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(f.outW, line+"\n"); err != nil {
		t.Fatal(err)
	}
}

func newTestMux(t *testing.T) (*mux, *fakeProc) {
	t.Helper()
	f := newFakeProc()
	var wg sync.WaitGroup
	m := newMux(f, 1<<20, zap.NewNop(), &wg, nil)
	t.Cleanup(func() { m.close(); wg.Wait() })
	return m, f
}

type callResult struct {
	msgs []*pipeline.Message
	err  error
}

func startCall(ctx context.Context, m *mux, req *pipeline.Message) <-chan callResult {
	ch := make(chan callResult, 1)
	go func() {
		var r callResult
		r.err = m.call(ctx, req, func(msg *pipeline.Message, _ int) { r.msgs = append(r.msgs, msg) })
		ch <- r
	}()
	return ch
}

func await(t *testing.T, ch <-chan callResult) callResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("call did not return within 5s")
		return callResult{}
	}
}

func TestMuxRewritesAndRestores(t *testing.T) {
	m, f := newTestMux(t)
	req := mustParse(t, `{"jsonrpc":"2.0", "id" : "a\"b", "method":"tools/call","params":{"name":"x","_meta":{"progressToken": {"odd":1} ,"k":"v"},"arguments":{"id":5}}}`)
	ch := startCall(context.Background(), m, req)
	got := f.read(t)
	want := `{"jsonrpc":"2.0", "id" : 1, "method":"tools/call","params":{"name":"x","_meta":{"progressToken": 1 ,"k":"v"},"arguments":{"id":5}}}`
	if got != want {
		t.Fatalf("upstream request:\n got %s\nwant %s", got, want)
	}
	f.write(t, `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}`)
	f.write(t, `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":2,"progress":1}}`) // nobody's
	f.write(t, `{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`)                                 // nobody's
	f.write(t, `{"result":{"id":1},"id":1,"jsonrpc":"2.0"}`)
	r := await(t, ch)
	if r.err != nil || len(r.msgs) != 2 {
		t.Fatalf("err %v, msgs %v", r.err, r.msgs)
	}
	if s := string(r.msgs[0].Raw); s != `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":{"odd":1},"progress":1}}` {
		t.Fatalf("progress: %s", s)
	}
	if s := string(r.msgs[1].Raw); s != `{"result":{"id":1},"id":"a\"b","jsonrpc":"2.0"}` {
		t.Fatalf("response: %s", s)
	}
}

func TestMuxCancelSendsUpstreamID(t *testing.T) {
	m, f := newTestMux(t)
	// Two calls so the second's upstream id differs from the client's.
	first := startCall(context.Background(), m, mustParse(t, `{"jsonrpc":"2.0","id":2,"method":"a"}`))
	if got := f.read(t); got != `{"jsonrpc":"2.0","id":1,"method":"a"}` {
		t.Fatal(got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	second := startCall(ctx, m, mustParse(t, `{"jsonrpc":"2.0","id":1,"method":"b","params":{"_meta":{"progressToken":"t"}}}`))
	if got := f.read(t); got != `{"jsonrpc":"2.0","id":2,"method":"b","params":{"_meta":{"progressToken":2}}}` {
		t.Fatal(got)
	}
	cancel()
	if r := await(t, second); !errors.Is(r.err, context.Canceled) || len(r.msgs) != 0 {
		t.Fatalf("cancelled call: %v %v", r.err, r.msgs)
	}
	n := mustParse(t, f.read(t))
	if n.Method != "notifications/cancelled" || string(n.CancelledRequestID()) != "2" {
		t.Fatalf("want notifications/cancelled for upstream id 2, got %s", n.Raw)
	}
	// Late output for the cancelled request goes nowhere; the other call
	// gets only its own answer.
	f.write(t, `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":2,"progress":1}}`)
	f.write(t, `{"jsonrpc":"2.0","id":2,"result":{}}`)
	f.write(t, `{"jsonrpc":"2.0","id":1,"result":{"ok":true}}`)
	r := await(t, first)
	if r.err != nil || len(r.msgs) != 1 || string(r.msgs[0].Raw) != `{"jsonrpc":"2.0","id":2,"result":{"ok":true}}` {
		t.Fatalf("first call: %v %v", r.err, r.msgs)
	}
}

func TestMuxCancelBeforeWriteSendsNothing(t *testing.T) {
	m, f := newTestMux(t)
	ctx, cancel := context.WithCancel(context.Background())
	ch := startCall(ctx, m, mustParse(t, `{"jsonrpc":"2.0","id":1,"method":"a"}`))
	// The pipe blocks the writer on the first request: cancel the second
	// while it is still queued.
	time.Sleep(50 * time.Millisecond)
	ctx2, cancel2 := context.WithCancel(context.Background())
	ch2 := startCall(ctx2, m, mustParse(t, `{"jsonrpc":"2.0","id":1,"method":"b"}`))
	time.Sleep(50 * time.Millisecond)
	cancel2()
	await(t, ch2)
	if got := f.read(t); !strings.Contains(got, `"method":"a"`) {
		t.Fatal(got)
	}
	cancel()
	await(t, ch)
	// Next: the cancel for a (written), never b nor a cancel for b.
	if got := f.read(t); !strings.Contains(got, `"requestId":1`) {
		t.Fatalf("want the cancel of the written request, got %s", got)
	}
	ch3 := startCall(context.Background(), m, mustParse(t, `{"jsonrpc":"2.0","id":1,"method":"c"}`))
	if got := f.read(t); got != `{"jsonrpc":"2.0","id":3,"method":"c"}` {
		t.Fatalf("want request c next, got %s", got)
	}
	f.write(t, `{"jsonrpc":"2.0","id":3,"result":{}}`)
	if r := await(t, ch3); r.err != nil {
		t.Fatal(r.err)
	}
}

func TestMuxSubscriptionAndServerCancel(t *testing.T) {
	m, f := newTestMux(t)
	ch := startCall(context.Background(), m, mustParse(t, `{"jsonrpc":"2.0","id":"L","method":"subscriptions/listen","params":{"notifications":{}}}`))
	f.read(t)
	f.write(t, `{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":1}}}`)
	f.write(t, `{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"u","_meta":{"io.modelcontextprotocol/subscriptionId":1}}}`)
	f.write(t, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}`)
	r := await(t, ch)
	if r.err != nil || len(r.msgs) != 3 {
		t.Fatalf("%v %v", r.err, r.msgs)
	}
	for i, want := range []string{
		`{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":"L"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"u","_meta":{"io.modelcontextprotocol/subscriptionId":"L"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"L"}}`,
	} {
		if string(r.msgs[i].Raw) != want {
			t.Errorf("message %d:\n got %s\nwant %s", i, r.msgs[i].Raw, want)
		}
	}
}

func TestMuxProcessExitFailsCalls(t *testing.T) {
	m, f := newTestMux(t)
	ch := startCall(context.Background(), m, mustParse(t, `{"jsonrpc":"2.0","id":1,"method":"a"}`))
	f.read(t)
	f.exit()
	r := await(t, ch)
	if r.err == nil || !strings.Contains(r.err.Error(), "4242") {
		t.Fatalf("want an error naming the process, got %v", r.err)
	}
	if err := m.call(context.Background(), mustParse(t, `{"jsonrpc":"2.0","id":1,"method":"a"}`), nil); err == nil {
		t.Fatal("call on an ended mux succeeded")
	}
}

func TestMuxLogMessages(t *testing.T) {
	m, f := newTestMux(t)
	ch := startCall(context.Background(), m, mustParse(t,
		`{"jsonrpc":"2.0","id":1,"method":"a","params":{"_meta":{"io.modelcontextprotocol/logLevel":"debug"}}}`))
	f.read(t)
	f.write(t, `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"hi"}}`)
	f.write(t, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	if r := await(t, ch); len(r.msgs) != 2 || r.msgs[0].Method != "notifications/message" {
		t.Fatalf("the only request that asked for logs should get them: %v", r.msgs)
	}
}

func TestMuxAnswersServerRequests(t *testing.T) {
	_, f := newTestMux(t)
	f.write(t, `{"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{}}`)
	got := mustParse(t, f.read(t))
	if !got.IsResponse() || string(got.ID) != `"s1"` || got.Error == nil {
		t.Fatalf("want an error response to the server's request, got %s", got.Raw)
	}
}

func TestRewriteRequest(t *testing.T) {
	for _, tc := range []struct{ in, want, token string }{
		{`{"jsonrpc":"2.0","id":"x","method":"m"}`, `{"jsonrpc":"2.0","id":7,"method":"m"}`, ""},
		// Escaped and case-folded member names are found as encoding/json would.
		{`{"jsonrpc":"2.0","id":1,"method":"m","params":{"_META":{"Progress\u0054oken":"t","progressToken":"u"}}}`,
			`{"jsonrpc":"2.0","id":7,"method":"m","params":{"_META":{"Progress\u0054oken":7,"progressToken":7}}}`, `"u"`},
		// A value that merely looks like a key is left alone.
		{`{"jsonrpc":"2.0","id":1,"method":"m","params":{"s":"\"id\":1","a":[{"progressToken":1}]}}`,
			`{"jsonrpc":"2.0","id":7,"method":"m","params":{"s":"\"id\":1","a":[{"progressToken":1}]}}`, ""},
		// Every copy of a member is rewritten, as before the edits were
		// made in one pass; params or _meta that are no objects are left.
		{`{"jsonrpc":"2.0","id":1,"id":2,"method":"m","params":{"_meta":{"progressToken":"a"}},"params":{"_meta":"s","_Meta":{"progressToken":{"x":1},"x":[1]}}}`,
			`{"jsonrpc":"2.0","id":7,"id":7,"method":"m","params":{"_meta":{"progressToken":7}},"params":{"_meta":"s","_Meta":{"progressToken":7,"x":[1]}}}`, `{"x":1}`},
		{`{"params":[{"_meta":{"progressToken":1}}],"id":  5 }`, `{"params":[{"_meta":{"progressToken":1}}],"id":  7 }`, ""},
		// Pretty JSON is compacted: one message per line.
		{"{\n  \"jsonrpc\": \"2.0\",\n  \"id\": 1,\n  \"method\": \"m\\n\"\n}", `{"jsonrpc":"2.0","id":7,"method":"m\n"}`, ""},
	} {
		// The bytes, not a parsed message: Parse now refuses the
		// case-folded copies (pipeline/members.go), the rewrite still
		// handles them as encoding/json would.
		line, token, err := rewriteRequest([]byte(tc.in), 7)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSuffix(string(line), "\n"); got != tc.want || string(token) != tc.token {
			t.Errorf("rewriteRequest(%s):\n got %s token %s\nwant %s token %s", tc.in, got, token, tc.want, tc.token)
		}
	}
}

func TestParseUpID(t *testing.T) {
	for raw, want := range map[string]int64{"5": 5, " 12 ": 12, "5.0": 5, "5e0": 5} {
		if got, ok := parseUpID(json.RawMessage(raw)); !ok || got != want {
			t.Errorf("parseUpID(%s) = %d, %v", raw, got, ok)
		}
	}
	for _, raw := range []string{`"5"`, "5.5", "", "null", "{}"} {
		if _, ok := parseUpID(json.RawMessage(raw)); ok {
			t.Errorf("parseUpID(%s) accepted", raw)
		}
	}
}

func TestClassifyDiscover(t *testing.T) {
	for _, tc := range []struct {
		resp string
		err  error
		want string
	}{
		{`{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2026-07-28","2025-11-25"]}}`, nil, EraModern},
		{`{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2025-11-25"]}}`, nil, EraLegacy},
		{`{"jsonrpc":"2.0","id":1,"error":{"code":-32022,"message":"x","data":{"supported":["2026-07-28"]}}}`, nil, EraModern},
		{`{"jsonrpc":"2.0","id":1,"error":{"code":-32022,"message":"x","data":{"supported":["2025-11-25"]}}}`, nil, EraLegacy},
		{`{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"x"}}`, nil, EraLegacy},
		{`{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"x","data":{"supported":["2026-07-28"]}}}`, nil, EraLegacy},
		{"", errors.New("exited"), EraLegacy},
		{"", nil, EraLegacy},
	} {
		var resp *pipeline.Message
		if tc.resp != "" {
			resp = mustParse(t, tc.resp)
		}
		if got, why := classifyDiscover(resp, tc.err); got != tc.want {
			t.Errorf("%s %v: got %s (%s), want %s", tc.resp, tc.err, got, why, tc.want)
		}
	}
}

// TestMuxServerCancelAfterFullQueue: the server's notifications/cancelled
// ends its call even when the caller's queue is full of progress it has
// not taken yet: the cancel is the call's final message and is delivered
// last, never dropped.
func TestMuxServerCancelAfterFullQueue(t *testing.T) {
	m, f := newTestMux(t)
	release := make(chan struct{})
	first := make(chan callResult, 1)
	go func() {
		var r callResult
		r.err = m.call(context.Background(), mustParse(t, `{"jsonrpc":"2.0","id":"slow","method":"tools/call","params":{"_meta":{"progressToken":"p"}}}`),
			func(msg *pipeline.Message, _ int) {
				<-release // a client that does not read
				r.msgs = append(r.msgs, msg)
			})
		first <- r
	}()
	f.read(t)
	for i := range callQueueLen + 5 {
		f.write(t, fmt.Sprintf(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":%d}}`, i))
	}
	f.write(t, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"reason":"server gave up"}}`)
	// The reader routes in order: once a later call is answered, the
	// cancel was routed.
	second := startCall(context.Background(), m, mustParse(t, `{"jsonrpc":"2.0","id":2,"method":"ping"}`))
	f.read(t)
	f.write(t, `{"jsonrpc":"2.0","id":2,"result":{}}`)
	if r := await(t, second); r.err != nil {
		t.Fatal(r.err)
	}
	close(release)
	r := await(t, first)
	if r.err != nil || len(r.msgs) == 0 {
		t.Fatalf("call: %v, %d messages", r.err, len(r.msgs))
	}
	last := r.msgs[len(r.msgs)-1]
	if want := `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"slow","reason":"server gave up"}}`; string(last.Raw) != want {
		t.Fatalf("last message %s, want the server's cancel %s (after %d messages)", last.Raw, want, len(r.msgs))
	}
}
