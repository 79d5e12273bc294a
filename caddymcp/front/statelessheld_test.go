package front

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// gateStage holds every tools/call until the test sends its verdict, and
// reports on ended that a hold ended because its context did.
type gateStage struct {
	verdict chan pipeline.Verdict
	ended   chan struct{}
}

func (s *gateStage) Handle(_ context.Context, ex *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
	if ex.Direction != pipeline.ToServer || m.Method != "tools/call" {
		return pipeline.Verdict{}
	}
	return pipeline.WaitFor(func(ctx context.Context) pipeline.Verdict {
		select {
		case v := <-s.verdict:
			return v
		case <-ctx.Done():
			close(s.ended)
			return pipeline.Verdict{Action: pipeline.Drop}
		}
	})
}

// newHeldStatelessServer serves 2026-07-28 requests through a gateStage with
// a short held-progress interval (so that a test hears it at once).
func newHeldStatelessServer(t *testing.T, call func(context.Context, *upstream.StatelessRequest, func(*pipeline.Message, int)) error) (*httptest.Server, *statelessFake, *gateStage) {
	t.Helper()
	gate := &gateStage{verdict: make(chan pipeline.Verdict, 1), ended: make(chan struct{})}
	fake := &statelessFake{call: call, seen: make(chan *upstream.StatelessRequest, 16)}
	store := NewStore(Limits{}, nil)
	srv, err := New(Config{Upstream: fake, Store: store, Chain: pipeline.NewChain(gate), HeldProgressInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); store.Close("test done") })
	return ts, fake, gate
}

// readEvents reads the data of a stream's events until it ends.
func readEvents(t *testing.T, resp *http.Response, each func(data string)) {
	t.Helper()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			each(data)
		}
	}
}

// TestStatelessHeldAnsweredAsSSE: a held 2026-07-28 request is answered as
// an SSE stream at once, its client hears the gateway's progress while
// held, and the answer — the upstream's after a continue, or the stage's
// own — comes on that stream.
func TestStatelessHeldAnsweredAsSSE(t *testing.T) {
	for _, tc := range []struct {
		name     string
		verdict  pipeline.Verdict
		want     string // in the last event
		upstream bool   // whether the upstream is called
	}{
		{"continue", pipeline.Verdict{}, `"content":[]`, true},
		{"respond", pipeline.Verdict{Action: pipeline.Respond, Message: pipeline.NewResult(json.RawMessage("1"), json.RawMessage(`{"by":"stage"}`))}, `"by":"stage"`, false},
		{"drop", pipeline.Verdict{Action: pipeline.Drop}, `"code":-32600`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, fake, gate := newHeldStatelessServer(t, echoCall)
			resp, err := http.DefaultClient.Do(statelessRequest(t, ts.URL,
				`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow",`+strings.Replace(statelessMeta, `{`, `{"progressToken":"tok",`, 1)+`}}`,
				map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "slow"}))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("a held request's answer: %d %q, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			var events []string
			readEvents(t, resp, func(data string) {
				events = append(events, data)
				if len(events) == 2 { // two ticks of progress while held, then the decision
					gate.verdict <- tc.verdict
				}
			})
			if len(events) < 3 {
				t.Fatalf("events %q", events)
			}
			for _, e := range events[:2] {
				if !strings.Contains(e, `"method":"notifications/progress"`) || !strings.Contains(e, `"progressToken":"tok"`) || !strings.Contains(e, heldProgressMessage) {
					t.Errorf("progress while held: %s", e)
				}
			}
			if last := events[len(events)-1]; !strings.Contains(last, `"id":1`) || !strings.Contains(last, tc.want) {
				t.Errorf("the answer %s, want %s", last, tc.want)
			}
			if called := len(fake.seen) > 0; called != tc.upstream {
				t.Errorf("upstream called: %v, want %v", called, tc.upstream)
			}
		})
	}
}

// TestStatelessHeldDisconnect: a 2026-07-28 client that goes away while its
// request is held ends the hold (its context), and the upstream never
// sees the request.
func TestStatelessHeldDisconnect(t *testing.T) {
	ts, fake, gate := newHeldStatelessServer(t, echoCall)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := http.DefaultClient.Do(statelessRequest(t, ts.URL,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow",`+statelessMeta+`}}`,
		map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "slow"}).WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("a held request's answer: %q", resp.Header.Get("Content-Type"))
	}
	cancel()
	resp.Body.Close()
	select {
	case <-gate.ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the client's disconnect did not end the hold")
	}
	if len(fake.seen) != 0 {
		t.Error("the upstream saw a request whose client left while it was held")
	}
}
