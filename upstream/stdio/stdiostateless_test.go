package stdio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// newStatelessStdio runs the test binary in the given server mode behind a
// Upstream with opts. Cleanup closes everything and checks that no process is
// left.
func newStatelessStdio(t *testing.T, mode string, opts Options, env map[string]string) (*Upstream, *pool.Pool) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	e := map[string]string{serverModeEnv: mode}
	for k, v := range env {
		e[k] = v
	}
	p, err := pool.New(pool.Config{
		Command:        self,
		Env:            e,
		MaxProcesses:   4,
		Warm:           pool.NoWarm,
		StopTimeout:    500 * time.Millisecond,
		AcquireTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return upstreamOn(t, p, opts), p
}

// upstreamOn returns an upstream with opts on pool p and, at cleanup, closes
// both and checks that no process is left.
func upstreamOn(t *testing.T, p *pool.Pool, opts Options) *Upstream {
	t.Helper()
	s, err := NewWithOptions(p, 1<<20, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		p.Close()
		p.Wait()
		s.Wait()
		if st := p.Stats(); st.Live != 0 || st.Assigned != 0 {
			t.Errorf("processes left after Close and Wait: %+v", st)
		}
	})
	return s
}

const testMeta = `"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}`

// toolCall builds a 2026-07-28 tools/call; token, when not empty, is the raw
// progressToken.
func toolCall(t *testing.T, id, tool, args, token string) *upstream.StatelessRequest {
	t.Helper()
	meta := testMeta
	if token != "" {
		meta += `,"progressToken":` + token
	}
	return &upstream.StatelessRequest{Message: mustParse(t, fmt.Sprintf(
		`{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":%q,"arguments":%s,"_meta":{%s}}}`, id, tool, args, meta))}
}

// collector gathers what a Call delivers.
type collector struct {
	mu   sync.Mutex
	msgs []*pipeline.Message
	ch   chan *pipeline.Message
}

func newCollector() *collector { return &collector{ch: make(chan *pipeline.Message, 100)} }

func (c *collector) deliver(m *pipeline.Message, status int) {
	if status != 200 {
		panic(fmt.Sprintf("status %d", status))
	}
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
	select {
	case c.ch <- m:
	default:
	}
}

func (c *collector) next(t *testing.T) *pipeline.Message {
	t.Helper()
	select {
	case m := <-c.ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("nothing delivered within 10s")
		return nil
	}
}

// resultText is the first text content of a tools/call result.
func resultText(t *testing.T, m *pipeline.Message) string {
	t.Helper()
	var r struct {
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
	}
	if err := json.Unmarshal(m.Result, &r); err != nil || len(r.Content) == 0 {
		t.Fatalf("not a tools/call result: %s", m.Raw)
	}
	return r.Content[0].Text
}

func TestStdioCallModern(t *testing.T) {
	s, p := newStatelessStdio(t, "gosdk", Options{Protocol: ProtocolModern}, nil)
	c := newCollector()
	id := `"caf\u00e9 \"1\""`
	if err := s.Call(context.Background(), toolCall(t, id, "echo", `{"text":"hello"}`, ""), c.deliver); err != nil {
		t.Fatal(err)
	}
	if len(c.msgs) != 1 || string(c.msgs[0].ID) != id || resultText(t, c.msgs[0]) != "hello" {
		t.Fatalf("want one response with the client's id byte for byte, got %v", c.msgs)
	}
	if st := p.Stats(); st.Spawned != 1 || st.Assigned != 1 {
		t.Fatalf("want one shared process (no probe with protocol modern), got %+v", st)
	}
	// A notification is forwarded (or dropped) and answers nothing.
	n := &upstream.StatelessRequest{Message: mustParse(t, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}`)}
	if err := s.Call(context.Background(), n, c.deliver); err != nil || len(c.msgs) != 1 {
		t.Fatalf("notification: err %v, delivered %d", err, len(c.msgs))
	}
}

func TestStdioCallCollidingIDs(t *testing.T) {
	s, p := newStatelessStdio(t, "gosdk", Options{Protocol: ProtocolModern, Shared: 2, MaxInFlight: 4}, nil)
	const clients, n = 40, 3
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := fmt.Sprintf("client-%d", i)
			c := newCollector()
			err := s.Call(context.Background(), toolCall(t, "1", "progress", fmt.Sprintf(`{"text":%q,"n":%d}`, want, n), `"tok"`), c.deliver)
			if err != nil {
				errs <- fmt.Errorf("%s: %v", want, err)
				return
			}
			if len(c.msgs) != n+1 {
				errs <- fmt.Errorf("%s: got %d messages, want %d", want, len(c.msgs), n+1)
				return
			}
			for _, m := range c.msgs[:n] {
				var pr struct {
					ProgressToken json.RawMessage `json:"progressToken"`
					Message       string          `json:"message"`
				}
				_ = json.Unmarshal(m.Params, &pr)
				if m.Method != "notifications/progress" || string(pr.ProgressToken) != `"tok"` || pr.Message != want {
					errs <- fmt.Errorf("%s: crossed or unrestored progress %s", want, m.Raw)
					return
				}
			}
			last := c.msgs[n]
			var r struct {
				Content []struct {
					Text string `json:"text"`
				} `json:"content"`
			}
			_ = json.Unmarshal(last.Result, &r)
			if !last.IsResponse() || string(last.ID) != "1" || len(r.Content) != 1 || r.Content[0].Text != want {
				errs <- fmt.Errorf("%s: crossed response %s", want, last.Raw)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := p.Stats(); st.Spawned != 2 {
		t.Errorf("want both shared processes used (4 in flight each), got %+v", st)
	}
}

func TestStdioCallCancel(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "marker")
	s, p := newStatelessStdio(t, "gosdk", Options{Protocol: ProtocolModern, Shared: 1}, map[string]string{markerEnv: marker})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	var late []*pipeline.Message
	start := time.Now()
	var cancelled time.Time
	err := s.Call(ctx, toolCall(t, "7", "slow", `{"text":"job-7"}`, `"p"`), func(m *pipeline.Message, _ int) {
		if !cancelled.IsZero() {
			late = append(late, m)
		}
		once.Do(func() { cancelled = time.Now(); cancel() }) // the tool started
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if d := time.Since(cancelled); cancelled.IsZero() || d > time.Second {
		t.Fatalf("Call returned %s after the cancel (started %s ago)", d, time.Since(start))
	}
	if len(late) != 0 {
		t.Fatalf("delivered after the cancel: %v", late)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(marker)
		if strings.Contains(string(b), "cancelled job-7") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tool never saw its cancellation (marker %q)", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The process serves on.
	c := newCollector()
	if err := s.Call(context.Background(), toolCall(t, "7", "echo", `{"text":"after"}`, ""), c.deliver); err != nil || resultText(t, c.msgs[0]) != "after" {
		t.Fatalf("call after a cancel: %v %v", err, c.msgs)
	}
	if st := p.Stats(); st.Spawned != 1 {
		t.Fatalf("want the same process, got %+v", st)
	}
}

func TestStdioCallProcessCrash(t *testing.T) {
	s, p := newStatelessStdio(t, "gosdk", Options{Protocol: ProtocolModern, Shared: 1}, nil)
	pidOf := func() string {
		c := newCollector()
		if err := s.Call(context.Background(), toolCall(t, "1", "pid", `{}`, ""), c.deliver); err != nil {
			t.Fatal(err)
		}
		return resultText(t, c.msgs[0])
	}
	before := pidOf()

	// A slow call in flight on the same process, then one that kills it.
	slowErr := make(chan error, 1)
	started := make(chan struct{})
	var once sync.Once
	go func() {
		slowErr <- s.Call(context.Background(), toolCall(t, "2", "slow", `{"text":"x"}`, "1"), func(*pipeline.Message, int) {
			once.Do(func() { close(started) })
		})
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("slow call did not start")
	}
	err := s.Call(context.Background(), toolCall(t, "3", "crash", `{}`, ""), func(m *pipeline.Message, _ int) {
		t.Errorf("crash call delivered %s", m.Raw)
	})
	if err == nil || !strings.Contains(err.Error(), "exit status 4") {
		t.Fatalf("crash call: want an error naming the exit, got %v", err)
	}
	select {
	case err := <-slowErr:
		if err == nil || errors.Is(err, context.Canceled) {
			t.Fatalf("in-flight call on the crashed process: want an error, got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("in-flight call did not end when its process crashed")
	}
	if after := pidOf(); after == before {
		t.Fatalf("want a new process after the crash, same pid %s", after)
	}
	if st := p.Stats(); st.Spawned != 2 || st.Crashed != 1 {
		t.Fatalf("want one crash and one restart, got %+v", st)
	}
}

func TestStdioEra(t *testing.T) {
	for _, tc := range []struct {
		mode string
		want string
	}{
		{"gosdk", EraModern},
		{"gosdk-legacy", EraLegacy}, // -32022 without 2026-07-28
		{"crash", EraLegacy},        // exits on the probe
		{"silent", EraLegacy},       // never answers
	} {
		t.Run(tc.mode, func(t *testing.T) {
			s, p := newStatelessStdio(t, tc.mode, Options{ProbeTimeout: 300 * time.Millisecond}, nil)
			s.era.readyWait = time.Second // "silent" never answers the readiness ping either
			var wg sync.WaitGroup
			eras := make([]string, 5)
			for i := range eras {
				wg.Add(1)
				go func() {
					defer wg.Done()
					era, err := s.Era(context.Background())
					if err != nil {
						t.Error(err)
					}
					eras[i] = era
				}()
			}
			wg.Wait()
			for _, era := range eras {
				if era != tc.want {
					t.Fatalf("eras %v, want %s", eras, tc.want)
				}
			}
			if st := p.Stats(); st.Spawned != 1 || st.Assigned != 0 {
				t.Fatalf("want one throwaway probe process, released: %+v", st)
			}
			err := s.Call(context.Background(), toolCall(t, "1", "echo", `{"text":"x"}`, ""), newCollector().deliver)
			switch {
			case tc.want == EraLegacy && !errors.Is(err, upstream.ErrSessionfulOnly):
				t.Fatalf("want ErrSessionfulOnly, got %v", err)
			case tc.want == EraModern && err != nil:
				t.Fatal(err)
			}
			if era, _ := s.Era(context.Background()); era != tc.want {
				t.Fatalf("era not remembered: %s", era)
			}
		})
	}
}

func TestStdioProtocolLegacy(t *testing.T) {
	s, p := newStatelessStdio(t, "gosdk", Options{Protocol: ProtocolLegacy}, nil)
	err := s.Call(context.Background(), toolCall(t, "1", "echo", `{"text":"x"}`, ""), newCollector().deliver)
	if !errors.Is(err, upstream.ErrSessionfulOnly) {
		t.Fatalf("want ErrSessionfulOnly, got %v", err)
	}
	if st := p.Stats(); st.Spawned != 0 {
		t.Fatalf("legacy must spawn nothing for Call: %+v", st)
	}
}

func TestStdioListen(t *testing.T) {
	s, _ := newStatelessStdio(t, "gosdk", Options{Protocol: ProtocolModern, Shared: 1}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	listen := &upstream.StatelessRequest{Message: mustParse(t,
		`{"jsonrpc":"2.0","id":"sub-1","method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true},"_meta":{`+testMeta+`}}}`)}
	c := newCollector()
	done := make(chan error, 1)
	go func() { done <- s.Call(ctx, listen, c.deliver) }()

	subID := func(m *pipeline.Message) string {
		return string(findMember(findMember(m.Params, "_meta"), metaSubscriptionID))
	}
	ack := c.next(t)
	if ack.Method != "notifications/subscriptions/acknowledged" || subID(ack) != `"sub-1"` {
		t.Fatalf("first message should be the ack with the client's id, got %s", ack.Raw)
	}
	// Another client, same id, adds a tool.
	add := newCollector()
	if err := s.Call(context.Background(), toolCall(t, `"sub-1"`, "add_tool", `{"name":"new-tool"}`, ""), add.deliver); err != nil {
		t.Fatal(err)
	}
	if len(add.msgs) != 1 || !add.msgs[0].IsResponse() {
		t.Fatalf("the listen's notifications leaked to another call: %v", add.msgs)
	}
	changed := c.next(t)
	if changed.Method != "notifications/tools/list_changed" || subID(changed) != `"sub-1"` {
		t.Fatalf("want list_changed with the client's id, got %s", changed.Raw)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("listen ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("listen did not end with its context")
	}
}

func TestStdioListenEndsWhenProcessExits(t *testing.T) {
	s, _ := newStatelessStdio(t, "gosdk", Options{Protocol: ProtocolModern, Shared: 1}, nil)
	listen := &upstream.StatelessRequest{Message: mustParse(t,
		`{"jsonrpc":"2.0","id":9,"method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true},"_meta":{`+testMeta+`}}}`)}
	c := newCollector()
	done := make(chan error, 1)
	go func() { done <- s.Call(context.Background(), listen, c.deliver) }()
	c.next(t) // the ack
	_ = s.Call(context.Background(), toolCall(t, "1", "crash", `{}`, ""), c.deliver)
	select {
	case err := <-done:
		if err == nil || errors.Is(err, context.Canceled) {
			t.Fatalf("listen on a dead process: want an error, got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("listen did not end when its process exited")
	}
}

func TestStdioCloseStopsShared(t *testing.T) {
	s, p := newStatelessStdio(t, "gosdk", Options{Protocol: ProtocolModern}, nil)
	if err := s.Call(context.Background(), toolCall(t, "1", "echo", `{"text":"x"}`, ""), newCollector().deliver); err != nil {
		t.Fatal(err)
	}
	s.Close()
	err := s.Call(context.Background(), toolCall(t, "1", "echo", `{"text":"x"}`, ""), newCollector().deliver)
	if !errors.Is(err, upstream.ErrBusy) {
		t.Fatalf("Call after Close: want ErrBusy, got %v", err)
	}
	s.Wait() // returns: the shared process was released and reaped
	if st := p.Stats(); st.Live != 0 {
		t.Fatalf("shared process left after Close: %+v", st)
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := (Options{}).Validate(); err != nil {
		t.Fatal(err)
	}
	err := Options{Protocol: "2026", Shared: -2}.Validate()
	if err == nil || !strings.Contains(err.Error(), "protocol") || !strings.Contains(err.Error(), "shared") {
		t.Fatalf("want both problems named, got %v", err)
	}
}
