package front

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/seal"
	"github.com/caddy-mcp/caddy-mcp/upstream/remote"
)

// sdkUpstream is a go-sdk server over Streamable HTTP that counts the
// sessions it began and the DELETEs it was sent.
type sdkUpstream struct {
	url                   string
	inits, deletes, joins atomic.Int32
	initialized           atomic.Int32
}

func newSDKUpstream(t *testing.T) *sdkUpstream {
	t.Helper()
	u := new(sdkUpstream)
	srv := mcp.NewServer(&mcp.Implementation{Name: "echo", Version: "1"}, &mcp.ServerOptions{
		InitializedHandler: func(context.Context, *mcp.InitializedRequest) { u.initialized.Add(1) },
	})
	type in struct {
		Text string `json:"text"`
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "echo"}, func(_ context.Context, _ *mcp.CallToolRequest, a in) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: a.Text}}}, nil, nil
	})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodDelete:
			u.deletes.Add(1)
		case r.Method == http.MethodPost:
			// The go-sdk client asks server/discover first (2026-07-28).
			b, _ := io.ReadAll(r.Body)
			if strings.Contains(string(b), `"method":"initialize"`) {
				u.inits.Add(1)
			}
			if strings.Contains(string(b), `"id":"mcpgw-attach"`) {
				u.joins.Add(1)
			}
			r.Body = io.NopCloser(strings.NewReader(string(b)))
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		ts.Close()
		// The sessions that instances let go of live on: end them.
		for ss := range srv.Sessions() {
			_ = ss.Close()
		}
	})
	u.url = ts.URL
	return u
}

// instance is one gateway of a cluster: its own store and its own
// connection pool to the upstream.
type instance struct {
	srv   *Server
	store *Store
	up    *remote.HTTP
	once  sync.Once
}

// newInstance is an instance whose upstream is the server at upURL; opts
// change its configuration (whose Upstream they may wrap).
func newInstance(t *testing.T, upURL string, c *Cluster, opts ...func(*Config)) *instance {
	t.Helper()
	up, err := remote.NewHTTP(remote.Config{URL: upURL, Name: "up"})
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{store: NewStore(Limits{}, nil), up: up}
	cfg := Config{Upstream: up, Store: in.store, Cluster: c, Clients: headerUsers}
	for _, o := range opts {
		o(&cfg)
	}
	if in.srv, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.stop)
	return in
}

// stop is the instance's shutdown: its sessions end here, not upstream.
func (in *instance) stop() {
	in.once.Do(func() {
		in.srv.Exit()
		in.store.Close("the instance stops")
		if w, ok := in.srv.cfg.Upstream.(interface{ Wait() }); ok {
			w.Wait() // a federation over up
		}
		in.up.Wait()
		in.up.CloseIdleConnections()
	})
}

// roundRobin hands each request to the next live instance, with no
// affinity, as a load balancer in front of a cluster does.
type roundRobin struct {
	mu   sync.Mutex
	next int
	live []*instance
}

func (rr *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rr.mu.Lock()
	in := rr.live[rr.next%len(rr.live)]
	rr.next++
	rr.mu.Unlock()
	in.srv.ServeHTTP(w, r)
}

func (rr *roundRobin) drop(in *instance) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	for i, x := range rr.live {
		if x == in {
			rr.live = append(rr.live[:i:i], rr.live[i+1:]...)
		}
	}
}

// TestClusterAnyInstance: a go-sdk client whose requests alternate between
// two instances keeps its session, on one upstream session; an instance
// that stops lets go of the session without ending it, and the client goes
// on through the other; the client's DELETE ends it upstream, after which
// every instance answers 404.
func TestClusterAnyInstance(t *testing.T) {
	up := newSDKUpstream(t)
	ring := testRing(t)
	a := newInstance(t, up.url, &Cluster{Ring: ring, Endpoint: "api"})
	b := newInstance(t, up.url, &Cluster{Ring: ring, Endpoint: "api"})
	rr := &roundRobin{live: []*instance{a, b}}
	lb := httptest.NewServer(rr)
	defer lb.Close()

	ctx := context.Background()
	client := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: lb.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sid := cs.ID()
	call := func(text string) {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": text}})
		if err != nil {
			t.Fatalf("call %s: %v", text, err)
		}
		if got := res.Content[0].(*mcp.TextContent).Text; got != text {
			t.Fatalf("call %s answered %q", text, got)
		}
	}
	for _, text := range []string{"one", "two", "three", "four"} {
		call(text)
	}
	if a.store.get(sid) == nil || b.store.get(sid) == nil {
		t.Fatal("the requests did not reach both instances")
	}
	for _, in := range []*instance{a, b} {
		// The admin API and the console name it as its client does.
		if info := in.store.Sessions(); len(info) != 1 || info[0].ID != sid {
			t.Errorf("an instance lists %+v, want the session %s", info, sid)
		}
	}

	rr.drop(a)
	a.stop() // a rolling restart: the session must live on
	call("after a stopped")
	if n := up.deletes.Load(); n != 0 {
		t.Errorf("stopping an instance sent %d DELETE upstream", n)
	}
	if n, m := up.inits.Load(), up.initialized.Load(); n != 1 || m != 1 {
		t.Errorf("the upstream saw %d initialize and %d notifications/initialized, want one session", n, m)
	}

	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	b.up.Wait() // the DELETE it forwarded
	if n := up.deletes.Load(); n != 1 {
		t.Errorf("the client's DELETE reached the upstream %d times", n)
	}
	c := newInstance(t, up.url, &Cluster{Ring: ring, Endpoint: "api"})
	ts := httptest.NewServer(c.srv)
	defer ts.Close()
	if st := postTool(t, ts.URL, sid, ""); st != http.StatusNotFound {
		t.Errorf("a session its client ended answered %d on an instance that never held it", st)
	}
}

// TestClusterRejoinRefusals: an instance that never held a session serves
// it for its user on its endpoint, and answers 404 to a tampered id, to an
// id sealed for another endpoint, and to another user.
func TestClusterRejoinRefusals(t *testing.T) {
	up := newSDKUpstream(t)
	ring := testRing(t)
	a := newInstance(t, up.url, &Cluster{Ring: ring, Endpoint: "api"})
	tsA := httptest.NewServer(a.srv)
	defer tsA.Close()
	ctx := context.Background()
	cs := connectSDK(t, ctx, &mcp.StreamableClientTransport{Endpoint: tsA.URL})
	defer cs.Close()
	sid := cs.ID()
	if s, err := ring.OpenSession(sid, seal.Binding{Endpoint: "api"}); err != nil || len(s.Upstreams) != 1 || s.Upstreams[0].SessionID == "" {
		t.Fatalf("the id does not carry the upstream's session: %+v, %v", s, err)
	}

	raw, _ := base64.RawURLEncoding.DecodeString(sid)
	raw[len(raw)-1] ^= 1
	tampered := base64.RawURLEncoding.EncodeToString(raw)
	for _, c := range []struct {
		name, endpoint, sid, user string
		want                      int
	}{
		{"tampered", "api", tampered, "", http.StatusNotFound},
		{"another endpoint", "admin", sid, "", http.StatusNotFound},
		{"another user", "api", sid, "mallory", http.StatusNotFound},
		{"its user, its endpoint", "api", sid, "", http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			other := newInstance(t, up.url, &Cluster{Ring: ring, Endpoint: c.endpoint})
			ts := httptest.NewServer(other.srv)
			defer ts.Close()
			if st := postTool(t, ts.URL, c.sid, c.user); st != c.want {
				t.Errorf("answered %d, want %d", st, c.want)
			}
		})
	}
	if n := up.deletes.Load(); n != 0 {
		t.Errorf("the refusals and the instances' stops sent %d DELETE upstream", n)
	}
}

// postToolIDs numbers postTool's requests, which may share a session.
var postToolIDs atomic.Int64

// postTool sends a tools/call on session sid as user and returns the
// status, -1 for a 200 that does not carry the tool's answer.
func postTool(t *testing.T, url, sid, user string) int {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":` + strconv.FormatInt(postToolIDs.Add(1), 10) + `,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"}}}`
	r, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	r.Header.Set("Mcp-Session-Id", sid)
	r.Header.Set("Mcp-Protocol-Version", Version20250618)
	if user != "" {
		r.Header.Set("X-Test-User", user)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK && !strings.Contains(string(answer), `"text":"x"`) {
		return -1 // answered with an error
	}
	return resp.StatusCode
}

// TestClusterResumeElsewhere: a GET resuming, with a Last-Event-ID another
// instance gave, on an instance that cannot place it is served rather than
// refused: the standalone stream afresh, another stream as finished.
func TestClusterResumeElsewhere(t *testing.T) {
	up := newSDKUpstream(t)
	ring := testRing(t)
	a := newInstance(t, up.url, &Cluster{Ring: ring, Endpoint: "api"})
	tsA := httptest.NewServer(a.srv)
	defer tsA.Close()
	cs := connectSDK(t, context.Background(), &mcp.StreamableClientTransport{Endpoint: tsA.URL})
	defer cs.Close()
	for _, c := range []struct {
		name, last string
		ended      bool
	}{
		{"the standalone stream", eventID(getStreamIndex, 40), false},
		{"a POST's stream", eventID(7, 3), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newInstance(t, up.url, &Cluster{Ring: ring, Endpoint: "api"})
			ts := httptest.NewServer(b.srv)
			defer ts.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Accept", "text/event-stream")
			r.Header.Set("Mcp-Session-Id", cs.ID())
			r.Header.Set("Mcp-Protocol-Version", Version20250618)
			r.Header.Set("Last-Event-ID", c.last)
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
				body, _ := io.ReadAll(resp.Body)
				t.Fatalf("the resume answered %d %s", resp.StatusCode, body)
			}
			if c.ended {
				if body, _ := io.ReadAll(resp.Body); len(body) != 0 {
					t.Errorf("the finished stream carried %q", body)
				}
			}
		})
	}
}

// TestClusterEndsUpstream: in a cluster the upstream session ends (DELETE)
// when the client or the operator ends the session, not when an instance
// lets go of it (shutdown; idleness and eviction end it the same way).
func TestClusterEndsUpstream(t *testing.T) {
	for _, c := range []struct {
		name    string
		end     func(in *instance, cs *mcp.ClientSession)
		deletes int32
	}{
		{"the client's DELETE", func(_ *instance, cs *mcp.ClientSession) { _ = cs.Close() }, 1},
		{"the operator's End", func(in *instance, cs *mcp.ClientSession) { in.store.End(cs.ID(), "ended by the operator") }, 1},
		{"the instance stops", func(in *instance, _ *mcp.ClientSession) { in.stop() }, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			up := newSDKUpstream(t)
			in := newInstance(t, up.url, &Cluster{Ring: testRing(t), Endpoint: "api"})
			ts := httptest.NewServer(in.srv)
			defer ts.Close()
			cs := connectSDK(t, context.Background(), &mcp.StreamableClientTransport{Endpoint: ts.URL})
			defer cs.Close()
			c.end(in, cs)
			in.up.Wait() // for the DELETE sent in the background
			if n := up.deletes.Load(); n != c.deletes {
				t.Errorf("the upstream got %d DELETE, want %d", n, c.deletes)
			}
		})
	}
}

// TestClusterConcurrentRejoin: requests that arrive together for a session
// an instance does not hold rebuild it once: one join upstream, one
// session, every request served.
func TestClusterConcurrentRejoin(t *testing.T) {
	up := newSDKUpstream(t)
	ring := testRing(t)
	a := newInstance(t, up.url, &Cluster{Ring: ring, Endpoint: "api"})
	tsA := httptest.NewServer(a.srv)
	defer tsA.Close()
	cs := connectSDK(t, context.Background(), &mcp.StreamableClientTransport{Endpoint: tsA.URL})
	defer cs.Close()
	b := newInstance(t, up.url, &Cluster{Ring: ring, Endpoint: "api"})
	tsB := httptest.NewServer(b.srv)
	defer tsB.Close()
	const n = 8
	status := make(chan int, n)
	for range n {
		go func() { status <- postTool(t, tsB.URL, cs.ID(), "") }()
	}
	for range n {
		if st := <-status; st != http.StatusOK {
			t.Errorf("a request answered %d", st)
		}
	}
	if j := up.joins.Load(); j != 1 || b.store.Len() != 1 {
		t.Errorf("%d joins upstream, %d sessions on the instance; want 1 and 1", j, b.store.Len())
	}
}
