package front

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/seal"
	"github.com/caddy-mcp/caddy-mcp/upstream/federate"
)

// slowUpstream is a go-sdk server with one tool, slow, that sends a first
// progress, waits for free, then a second progress and its result.
type slowUpstream struct {
	url  string
	free func()
}

// newSlowUpstream starts one; with keep, it keeps its events for streams
// to resume (an EventStore), without, it gives its events no ids.
func newSlowUpstream(t *testing.T, keep bool) *slowUpstream {
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	srv := mcp.NewServer(&mcp.Implementation{Name: "slow", Version: "1"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: "slow"}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		tok := req.Params.GetProgressToken()
		_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 1})
		<-release
		_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 2})
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done"}}}, nil, nil
	})
	opts := &mcp.StreamableHTTPOptions{}
	if keep {
		opts.EventStore = mcp.NewMemoryEventStore(nil)
	}
	up := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, opts))
	t.Cleanup(func() {
		free()
		up.Close()
		for ss := range srv.Sessions() {
			_ = ss.Close()
		}
	})
	return &slowUpstream{url: up.URL, free: free}
}

// federated makes an instance's upstream a federation of one server,
// alpha, over the upstream it had.
func federated(t *testing.T) func(*Config) {
	return func(cfg *Config) {
		f, err := federate.New(federate.Config{Servers: []federate.Server{{Name: "alpha", Upstream: cfg.Upstream}}})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Upstream = f
	}
}

// answerSeen records what a stage and the observer of an instance were
// told of the answers to tools/call requests.
type answerSeen struct {
	mu             sync.Mutex
	stage, answers []string // "method target"
}

func (a *answerSeen) add(to *[]string, method, target string) {
	a.mu.Lock()
	*to = append(*to, method+" "+target)
	a.mu.Unlock()
}

// withSeen gives an instance a stage and an observer that record into a.
func withSeen(a *answerSeen) func(*Config) {
	return func(cfg *Config) {
		cfg.Chain = pipeline.NewChain(pipeline.StageFunc(func(_ context.Context, ex *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
			if ex.Direction == pipeline.ToClient && m.IsResponse() {
				a.add(&a.stage, ex.RequestMethod, ex.RequestTarget)
			}
			return pipeline.Verdict{}
		}))
		cfg.Observer = testObserver{onAnswer: func(an Answered) {
			if an.Method == "tools/call" {
				a.add(&a.answers, an.Method, an.Target)
			}
		}}
	}
}

// TestClusterResumePostStream: a tool call's stream through instance a is
// cut after its first progress; a stops; the tool goes on, its server
// keeping its events; the client resumes the stream on b with the sealed
// id of the last event it had: b reads the upstream's answer stream after
// the upstream's event id inside it, and the client gets the rest of the
// call — the second progress and the result, under its own id — and
// nothing twice: on a plain endpoint, on one with stages (which judge the
// answer knowing the request it answers, as the observer's call log and
// metrics do), and on a federated one (whose server knows the call by a's
// id). A server that gives no event ids cannot be resumed: the call gets
// an error, not a stream that ends without its answer.
func TestClusterResumePostStream(t *testing.T) {
	for _, c := range []struct {
		name  string
		keep  bool   // the server keeps its events
		tool  string // as the client names it
		opts  func(t *testing.T, b *answerSeen) []func(*Config)
		error bool // the call is answered with an error
	}{
		{name: "plain", keep: true, tool: "slow"},
		{name: "stages", keep: true, tool: "slow", opts: func(_ *testing.T, b *answerSeen) []func(*Config) { return []func(*Config){withSeen(b)} }},
		{name: "federated", keep: true, tool: "alpha_slow", opts: func(t *testing.T, _ *answerSeen) []func(*Config) { return []func(*Config){federated(t)} }},
		{name: "federated with stages", keep: true, tool: "alpha_slow", opts: func(t *testing.T, b *answerSeen) []func(*Config) {
			return []func(*Config){federated(t), withSeen(b)}
		}},
		{name: "no event ids", keep: false, tool: "slow", error: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			up := newSlowUpstream(t, c.keep)
			ring := testRing(t)
			seenA, seenB := &answerSeen{}, &answerSeen{}
			var optsA, optsB []func(*Config)
			if c.opts != nil {
				optsA, optsB = c.opts(t, seenA), c.opts(t, seenB)
			}
			a := newInstance(t, up.url, &Cluster{Ring: ring, Endpoint: "api"}, optsA...)
			b := newInstance(t, up.url, &Cluster{Ring: ring, Endpoint: "api"}, optsB...)
			got := resumeOnB(t, a, b, up, c.tool)
			if c.error {
				if len(got) != 1 || !strings.Contains(got[0], `"error"`) || !strings.Contains(got[0], `"id":7`) {
					t.Fatalf("the resumed stream carried %q; want an error for id 7", got)
				}
				return
			}
			if len(got) != 2 || !strings.Contains(got[0], `"progress":2`) || !strings.Contains(got[1], `"done"`) || !strings.Contains(got[1], `"id":7`) {
				t.Fatalf("the resumed stream carried %q", got)
			}
			if c.opts == nil || c.name == "federated" {
				return
			}
			seenB.mu.Lock()
			defer seenB.mu.Unlock()
			want := "tools/call " + c.tool
			if len(seenB.stage) != 1 || seenB.stage[0] != want || len(seenB.answers) != 1 || seenB.answers[0] != want {
				t.Errorf("on b the stage saw %q and the observer %q of the answer; want %q", seenB.stage, seenB.answers, want)
			}
		})
	}
}

// resumeOnB calls tool through a until its first progress, stops a, and
// resumes the call's stream on b: the messages the resumed stream carried.
func resumeOnB(t *testing.T, a, b *instance, up *slowUpstream, tool string) []string {
	t.Helper()
	tsA, tsB := httptest.NewServer(a.srv), httptest.NewServer(b.srv)
	t.Cleanup(tsA.Close)
	t.Cleanup(tsB.Close)
	cs := connectSDK(t, context.Background(), &mcp.StreamableClientTransport{Endpoint: tsA.URL})
	t.Cleanup(func() { _ = cs.Close() })
	if _, err := cs.ListTools(context.Background(), nil); err != nil { // a federation learns its names
		t.Fatal(err)
	}
	version := cs.InitializeResult().ProtocolVersion
	send := func(url, method, body, last string) *http.Response {
		t.Helper()
		r, _ := http.NewRequest(method, url, strings.NewReader(body))
		r.Header.Set("Accept", "application/json, text/event-stream")
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Mcp-Session-Id", cs.ID())
		r.Header.Set("Mcp-Protocol-Version", version)
		if last != "" {
			r.Header.Set("Last-Event-ID", last)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s answered %d", method, resp.StatusCode)
		}
		return resp
	}

	resp := send(tsA.URL, http.MethodPost, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"`+tool+`","arguments":{},"_meta":{"progressToken":"p"}}}`, "")
	var last sseEvent
	_ = parseSSE(resp.Body, func(ev sseEvent) bool {
		last = ev
		return ev.data == "" // the priming event first
	})
	if !strings.Contains(last.data, `"progress":1`) {
		t.Fatalf("the first event is %s", last.data)
	}
	resp.Body.Close()
	// a stops while the call is in flight (its stop waits for the call);
	// whatever of the stream a read afterwards, the server kept.
	up.free()
	a.stop()

	resp = send(tsB.URL, http.MethodGet, "", last.id)
	defer resp.Body.Close()
	var got []string
	_ = parseSSE(resp.Body, func(ev sseEvent) bool {
		if ev.data != "" {
			got = append(got, ev.data)
		}
		return !strings.Contains(ev.data, `"result"`) && !strings.Contains(ev.data, `"error"`)
	})
	return got
}

// TestNoteAsk: a POST stream's event ids carry the one request it answers;
// a stream of two (a batch) carries none, nor does one whose id is over the
// bound; a target over its bound leaves the method out, so that another
// instance answers an error rather than let its stages judge the answer
// without it.
func TestNoteAsk(t *testing.T) {
	long := strings.Repeat("x", maxAskTarget+1)
	ask := func(id, target string) *call {
		return &call{id: json.RawMessage(id), method: "tools/call", target: target}
	}
	for _, c := range []struct {
		name  string
		calls []*call
		want  seal.EventRequest
	}{
		{"one", []*call{ask("7", "slow")}, seal.EventRequest{ID: "7", Method: "tools/call", Target: "slow"}},
		{"a batch", []*call{ask("7", "slow"), ask("8", "slow")}, seal.EventRequest{}},
		{"a long id", []*call{ask(`"`+strings.Repeat("i", maxAskID)+`"`, "slow")}, seal.EventRequest{}},
		{"a batch of a long id", []*call{ask(`"`+strings.Repeat("i", maxAskID)+`"`, "slow"), ask("8", "slow")}, seal.EventRequest{}},
		{"a long target", []*call{ask("7", long)}, seal.EventRequest{ID: "7"}},
	} {
		st := newStream(1, replayLimits{events: 4, bytes: 1 << 10})
		for _, cl := range c.calls {
			st.noteAsk(cl)
		}
		if got := st.askOf(); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
