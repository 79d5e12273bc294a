package front

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/upstream/balance"
	"github.com/caddy-mcp/caddy-mcp/upstream/remote"
)

// getLog records what a go-sdk upstream answered the GETs (the standalone
// stream) of each instance, which names itself by the query of its URL:
// "a 200", "b 409", "a end" (its GET's handler returned).
type getLog struct {
	mu      sync.Mutex
	seen    []string
	changed chan struct{} // closed and replaced at every record
}

func (g *getLog) add(s string) {
	g.mu.Lock()
	g.seen = append(g.seen, s)
	close(g.changed)
	g.changed = make(chan struct{})
	g.mu.Unlock()
}

// waitFor waits until want is recorded. The bound is not a measure: what
// it waits for follows at once (a few round trips) from what the test did.
func (g *getLog) waitFor(t *testing.T, want, why string) {
	t.Helper()
	limit := time.After(10 * time.Second)
	for {
		g.mu.Lock()
		seen, changed := slices.Clone(g.seen), g.changed
		g.mu.Unlock()
		if slices.Contains(seen, want) {
			return
		}
		select {
		case <-changed:
		case <-limit:
			t.Fatalf("%s: the upstream saw %q, never %q", why, seen, want)
		}
	}
}

// statusRecorder records the status a handler answers, as it answers it.
type statusRecorder struct {
	http.ResponseWriter
	status int
	record func(status int)
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.record(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// newListeningUpstream is a go-sdk server (keeping no events, as by
// default) whose GETs are recorded in log.
func newListeningUpstream(t *testing.T, log *getLog) (*mcp.Server, string) {
	t.Helper()
	srv := mcp.NewServer(&mcp.Implementation{Name: "echo", Version: "1"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: "echo"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "x"}}}, nil, nil
	})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			h.ServeHTTP(w, r)
			return
		}
		who := r.URL.Query().Get("i")
		rec := &statusRecorder{ResponseWriter: w, record: func(status int) { log.add(who + " " + http.StatusText(status)) }}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusOK {
			log.add(who + " end")
		}
	}))
	t.Cleanup(func() {
		ts.Close()
		for ss := range srv.Sessions() {
			_ = ss.Close()
		}
	})
	return srv, ts.URL
}

// TestClusterStandaloneStreamMoves: only the instance holding a session's
// client GET holds the upstream's standalone stream. The client's POSTs
// land on a; its GET is on b, or was on a and moved to b (the client
// reconnected through the balancer with a's event id, a still running). a
// lets go of the upstream's stream when its client's GET ends, b takes it
// (the server never refuses it with 409: one standalone stream per
// session), and a message the server sends on it then (tools/list_changed)
// reaches the client on b, not a's buffer, where no client listens.
func TestClusterStandaloneStreamMoves(t *testing.T) {
	for _, c := range []struct {
		name  string
		first bool // the client's GET was on a first
		wrap  func(t *testing.T, url string) func(*Config)
	}{
		{name: "the GET on b only"},
		{name: "the GET moves from a to b", first: true},
		{name: "auto transport", first: true, wrap: autoUpstream},
		{name: "a group", first: true, wrap: func(t *testing.T, _ string) func(*Config) { return grouped(t) }},
		{name: "federated", first: true, wrap: func(t *testing.T, _ string) func(*Config) { return federated(t) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			log := &getLog{changed: make(chan struct{})}
			srv, upURL := newListeningUpstream(t, log)
			ring := testRing(t)
			instance := func(who string) *instance {
				var opts []func(*Config)
				if c.wrap != nil {
					opts = append(opts, c.wrap(t, upURL+"?i="+who))
				}
				return newInstance(t, upURL+"?i="+who, &Cluster{Ring: ring, Endpoint: "api"}, opts...)
			}
			a, b := instance("a"), instance("b")
			tsA, tsB := httptest.NewServer(a.srv), httptest.NewServer(b.srv)
			defer tsA.Close()
			defer tsB.Close()
			ctx := context.Background()
			cs := connectSDK(t, ctx, &mcp.StreamableClientTransport{Endpoint: tsA.URL, DisableStandaloneSSE: true})
			defer cs.Close()
			var last string
			if c.first {
				resp, cancel := openGet(t, tsA.URL, cs, "")
				_ = parseSSE(resp.Body, func(ev sseEvent) bool { last = ev.id; return false })
				log.waitFor(t, "a OK", "a opens the upstream's stream for its client")
				cancel()
				resp.Body.Close()
				log.waitFor(t, "a end", "a lets go of the upstream's stream once its client's GET ended")
			}
			resp, cancel := openGet(t, tsB.URL, cs, last)
			defer cancel()
			defer resp.Body.Close()
			log.waitFor(t, "b OK", "b opens the upstream's stream for its client")
			if err := cs.Ping(ctx, nil); err != nil {
				t.Fatal(err) // a POST on a
			}

			mcp.AddTool(srv, &mcp.Tool{Name: "late"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
				return nil, nil, nil
			})
			waitListChanged(t, resp)

			log.mu.Lock()
			defer log.mu.Unlock()
			for _, s := range log.seen {
				if strings.HasSuffix(s, "Conflict") || (!c.first && strings.HasPrefix(s, "a ")) {
					t.Errorf("the upstream saw %q: %q", s, log.seen)
				}
			}
		})
	}
}

// autoUpstream makes an instance's upstream the auto transport (as the
// Caddyfile's default), to url.
func autoUpstream(t *testing.T, url string) func(*Config) {
	return func(cfg *Config) {
		a, err := remote.NewAuto(remote.Config{URL: url, Name: "up"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.CloseIdleConnections) // after the instance's stop
		cfg.Upstream = a
	}
}

// grouped makes an instance's upstream a load-balancing group of one
// member over the upstream it had.
func grouped(t *testing.T) func(*Config) {
	return func(cfg *Config) {
		m, err := balance.NewMember("m1", "http", cfg.Upstream, nil)
		if err != nil {
			t.Fatal(err)
		}
		g, err := balance.New(balance.Config{Members: []*balance.Member{m}})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Upstream = g
	}
}

// openGet opens a GET stream of cs's session at url, after last.
func openGet(t *testing.T, url string, cs *mcp.ClientSession, last string) (*http.Response, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	r.Header.Set("Accept", "text/event-stream")
	r.Header.Set("Mcp-Session-Id", cs.ID())
	r.Header.Set("Mcp-Protocol-Version", cs.InitializeResult().ProtocolVersion)
	if last != "" {
		r.Header.Set("Last-Event-ID", last)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("the client's GET: %v %v", resp, err)
	}
	return resp, cancel
}

// waitListChanged reads the stream resp until tools/list_changed comes.
// The bound is not a measure: it comes at once, or never.
func waitListChanged(t *testing.T, resp *http.Response) {
	t.Helper()
	changed := make(chan bool, 1)
	go func() {
		found := false
		_ = parseSSE(resp.Body, func(ev sseEvent) bool {
			found = strings.Contains(ev.data, "notifications/tools/list_changed")
			return !found
		})
		changed <- found
	}()
	select {
	case ok := <-changed:
		if !ok {
			t.Error("the client's stream ended without tools/list_changed")
		}
	case <-time.After(10 * time.Second):
		t.Error("tools/list_changed never reached the client's stream")
		resp.Body.Close() // ends the reader
		<-changed
	}
}
