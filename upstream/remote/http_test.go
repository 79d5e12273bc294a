package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// delivery is one message an httpRecorder received.
type delivery struct {
	m       *pipeline.Message
	related json.RawMessage // the request id of DeliverRelated
	hasRel  bool            // it came through DeliverRelated
}

// httpRecorder is a RelatedReceiver that keeps everything it gets.
type httpRecorder struct {
	mu     sync.Mutex
	items  []delivery
	wake   chan struct{}
	closed chan error
}

func newHTTPRecorder() *httpRecorder {
	return &httpRecorder{wake: make(chan struct{}, 1), closed: make(chan error, 1)}
}

func (r *httpRecorder) add(d delivery) {
	r.mu.Lock()
	r.items = append(r.items, d)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *httpRecorder) Deliver(m *pipeline.Message) { r.add(delivery{m: m}) }

func (r *httpRecorder) DeliverRelated(m *pipeline.Message, id json.RawMessage) {
	r.add(delivery{m: m, related: id, hasRel: true})
}

func (r *httpRecorder) Closed(err error) {
	select {
	case r.closed <- err:
	default:
		panic("Closed called twice")
	}
}

func (r *httpRecorder) all() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.items)
}

// waitFor waits until n deliveries match pred and returns them.
func (r *httpRecorder) waitFor(t *testing.T, n int, pred func(delivery) bool) []delivery {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		var got []delivery
		for _, d := range r.all() {
			if pred(d) {
				got = append(got, d)
			}
		}
		if len(got) >= n {
			return got
		}
		select {
		case <-r.wake:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("waited 10s for %d matching deliveries, have %d; all: %s", n, len(got), r.dump())
		}
	}
}

// response waits for the response with the raw id.
func (r *httpRecorder) response(t *testing.T, id string) delivery {
	t.Helper()
	return r.waitFor(t, 1, func(d delivery) bool { return d.m.IsResponse() && string(d.m.ID) == id })[0]
}

func (r *httpRecorder) dump() string {
	var b strings.Builder
	for _, d := range r.all() {
		fmt.Fprintf(&b, "\n  %s (related %s)", d.m.Raw, d.related)
	}
	return b.String()
}

// plainReceiver hides DeliverRelated, for the Deliver fallback.
type plainReceiver struct{ r *httpRecorder }

func (p plainReceiver) Deliver(m *pipeline.Message) { p.r.Deliver(m) }
func (p plainReceiver) Closed(err error)            { p.r.Closed(err) }

// seenRequest is a request as the upstream server saw it.
type seenRequest struct {
	method string
	host   string
	header http.Header
	body   string
}

// peer is an upstream server behind httptest that records its requests,
// counts its TCP connections and its open GET streams.
type peer struct {
	srv        *httptest.Server
	mu         sync.Mutex
	reqs       []seenRequest
	issued     []string // Mcp-Session-Id values it handed out
	respTypes  []string // Content-Type of each POST response
	newConns   atomic.Int32
	activeGets atomic.Int32
}

func startPeer(t *testing.T, next http.Handler) *peer {
	t.Helper()
	p := &peer{}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _, _ := readBounded(r.Body, 1<<20)
		r.Body = readCloser{strings.NewReader(string(body))}
		p.mu.Lock()
		p.reqs = append(p.reqs, seenRequest{method: r.Method, host: r.Host, header: r.Header.Clone(), body: string(body)})
		p.mu.Unlock()
		if r.Method == http.MethodGet {
			p.activeGets.Add(1)
			defer p.activeGets.Add(-1)
		}
		next.ServeHTTP(w, r)
		p.mu.Lock()
		if id := w.Header().Get("Mcp-Session-Id"); id != "" && !slices.Contains(p.issued, id) {
			p.issued = append(p.issued, id)
		}
		if r.Method == http.MethodPost {
			p.respTypes = append(p.respTypes, w.Header().Get("Content-Type"))
		}
		p.mu.Unlock()
	}))
	p.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			p.newConns.Add(1)
		}
	}
	p.srv.Start()
	t.Cleanup(p.srv.Close)
	return p
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

func (p *peer) requests(method string) []seenRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []seenRequest
	for _, r := range p.reqs {
		if method == "" || r.method == method {
			out = append(out, r)
		}
	}
	return out
}

func (p *peer) sessionIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.issued)
}

// sessionID returns the one session id the server issued; the handler
// records it when the initialize POST's handler returns, which may be
// just after the client read the response.
func (p *peer) sessionID(t *testing.T) string {
	t.Helper()
	eventually(t, "the server issued a session id", func() bool { return len(p.sessionIDs()) > 0 })
	if ids := p.sessionIDs(); len(ids) != 1 {
		t.Fatalf("the server issued session ids %q, want one", ids)
	}
	return p.sessionIDs()[0]
}

// eventually polls cond for up to 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newTestHTTP builds an upstream whose goroutines and idle connections are
// gone when the test ends.
func newTestHTTP(t *testing.T, cfg Config) *HTTP {
	t.Helper()
	h, err := NewHTTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Wait()
		h.CloseIdleConnections()
	})
	return h
}

// openConn opens a conn that is closed when the test ends.
func openConn(t *testing.T, h *HTTP, r upstream.Receiver) upstream.Conn {
	t.Helper()
	c, err := h.Open(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func send(t *testing.T, c upstream.Conn, raw string) {
	t.Helper()
	if err := c.Send(context.Background(), mustParse(t, raw)); err != nil {
		t.Fatalf("Send(%s): %v", raw, err)
	}
}

func initializeMsg(id, version string) string {
	return `{"jsonrpc":"2.0","id":` + id + `,"method":"initialize","params":{"protocolVersion":"` + version +
		`","capabilities":{},"clientInfo":{"name":"upstream-test","version":"1"}}}`
}

const initializedMsg = `{"jsonrpc":"2.0","method":"notifications/initialized"}`

// handshake initializes the upstream session and returns the response.
func handshake(t *testing.T, c upstream.Conn, rec *httpRecorder, version string) delivery {
	t.Helper()
	send(t, c, initializeMsg(`"init-1"`, version))
	d := rec.response(t, `"init-1"`)
	if d.m.Error != nil {
		t.Fatalf("initialize failed: %s", d.m.Raw)
	}
	send(t, c, initializedMsg)
	return d
}

// newGoSDKServer is a real go-sdk MCP server with a few tools.
func newGoSDKServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "upstream-http-test", Version: "1"}, nil)
	type echoArgs struct {
		Text string `json:"text"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "echo"}, func(_ context.Context, _ *mcp.CallToolRequest, a echoArgs) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: a.Text}}}, nil, nil
	})
	type countArgs struct {
		N int `json:"n"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "progress"}, func(ctx context.Context, req *mcp.CallToolRequest, a countArgs) (*mcp.CallToolResult, any, error) {
		for i := 1; i <= a.N; i++ {
			err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
				ProgressToken: req.Params.GetProgressToken(), Progress: float64(i), Total: float64(a.N),
			})
			if err != nil {
				return nil, nil, err
			}
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "counted"}}}, nil, nil
	})
	// poll drops its response stream at once (2025-11-25 polling), then
	// reports progress and answers: the client must resume with GET.
	mcp.AddTool(s, &mcp.Tool{Name: "poll"}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		req.Extra.CloseSSEStream(mcp.CloseSSEStreamArgs{RetryAfter: 20 * time.Millisecond})
		time.Sleep(50 * time.Millisecond)
		_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: req.Params.GetProgressToken(), Progress: 1})
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "polled"}}}, nil, nil
	})
	return s
}

func startGoSDKPeer(t *testing.T, opts *mcp.StreamableHTTPOptions) (*peer, *mcp.Server) {
	t.Helper()
	s := newGoSDKServer()
	return startPeer(t, mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, opts)), s
}

func sessionCount(s *mcp.Server) int {
	n := 0
	for range s.Sessions() {
		n++
	}
	return n
}

func TestHTTPGoSDKStatefulSession(t *testing.T) {
	p, srv := startGoSDKPeer(t, &mcp.StreamableHTTPOptions{})
	h := newTestHTTP(t, Config{URL: p.srv.URL + "/mcp"})
	rec := newHTTPRecorder()
	c := openConn(t, h, rec)

	init := handshake(t, c, rec, "2025-11-25")
	if init.m.ResultProtocolVersion() != "2025-11-25" || string(init.related) != `"init-1"` {
		t.Fatalf("initialize response %s, related %s", init.m.Raw, init.related)
	}
	send(t, c, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello over HTTP"}}}`)
	d := rec.response(t, "7")
	if !strings.Contains(string(d.m.Result), "hello over HTTP") || string(d.related) != "7" {
		t.Fatalf("tools/call response %s, related %s", d.m.Raw, d.related)
	}

	sid := p.sessionID(t)
	for _, d := range rec.all() {
		if strings.Contains(string(d.m.Raw), sid) {
			t.Errorf("the receiver saw the upstream session id in %s", d.m.Raw)
		}
	}
	reqs := p.requests(http.MethodPost)
	if len(reqs) != 3 {
		t.Fatalf("server saw %d POSTs, want 3", len(reqs))
	}
	if got := reqs[0].header.Get("Mcp-Session-Id"); got != "" {
		t.Errorf("initialize carried a session id %q", got)
	}
	for _, r := range reqs[1:] {
		if got := r.header.Get("Mcp-Session-Id"); got != sid {
			t.Errorf("request %s carried session id %q, want the upstream's %q", r.body, got, sid)
		}
		if got := r.header.Get("Mcp-Protocol-Version"); got != "2025-11-25" {
			t.Errorf("request %s carried MCP-Protocol-Version %q", r.body, got)
		}
	}
	if reqs[2].body != `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello over HTTP"}}}` {
		t.Errorf("the body was not forwarded byte for byte: %s", reqs[2].body)
	}
	if sessionCount(srv) != 1 {
		t.Fatalf("server has %d sessions, want 1", sessionCount(srv))
	}

	c.Close()
	eventually(t, "the DELETE ends the upstream session", func() bool { return sessionCount(srv) == 0 })
	h.Wait()
	dels := p.requests(http.MethodDelete)
	if len(dels) != 1 || dels[0].header.Get("Mcp-Session-Id") != sid {
		t.Fatalf("DELETEs seen: %+v", dels)
	}
	select {
	case err := <-rec.closed:
		t.Fatalf("Closed called after our own Close: %v", err)
	default:
	}
	if err := c.Send(context.Background(), mustParse(t, `{"jsonrpc":"2.0","id":8,"method":"ping"}`)); !errors.Is(err, upstream.ErrClosed) {
		t.Fatalf("Send after Close: %v, want ErrClosed", err)
	}
}

func TestHTTPGoSDKProgressArrivesInOrderBeforeResponse(t *testing.T) {
	p, _ := startGoSDKPeer(t, &mcp.StreamableHTTPOptions{})
	h := newTestHTTP(t, Config{URL: p.srv.URL})
	rec := newHTTPRecorder()
	c := openConn(t, h, rec)
	handshake(t, c, rec, "2025-06-18")

	send(t, c, `{"jsonrpc":"2.0","id":"call-1","method":"tools/call","params":{"name":"progress","arguments":{"n":5},"_meta":{"progressToken":"tok"}}}`)
	rec.response(t, `"call-1"`)
	var seq []string
	for _, d := range rec.all() {
		if d.m.Method == "notifications/progress" || string(d.m.ID) == `"call-1"` {
			if string(d.related) != `"call-1"` {
				t.Errorf("%s was not delivered as related to call-1 (related %s)", d.m.Raw, d.related)
			}
			var p struct {
				Progress float64 `json:"progress"`
			}
			_ = json.Unmarshal(d.m.Params, &p)
			seq = append(seq, fmt.Sprintf("%s:%g", d.m.Kind, p.Progress))
		}
	}
	want := []string{"notification:1", "notification:2", "notification:3", "notification:4", "notification:5", "response:0"}
	if !slices.Equal(seq, want) {
		t.Fatalf("delivery order %v, want %v", seq, want)
	}
}

func TestHTTPGoSDKJSONResponseMode(t *testing.T) {
	p, _ := startGoSDKPeer(t, &mcp.StreamableHTTPOptions{JSONResponse: true})
	h := newTestHTTP(t, Config{URL: p.srv.URL})
	rec := newHTTPRecorder()
	c := openConn(t, h, plainReceiver{rec}) // Deliver only: no routing hints
	handshake(t, c, rec, "2025-11-25")
	send(t, c, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"json mode"}}}`)
	d := rec.response(t, "3")
	if !strings.Contains(string(d.m.Result), "json mode") || d.hasRel {
		t.Fatalf("response %s (through DeliverRelated: %v)", d.m.Raw, d.hasRel)
	}
	p.mu.Lock()
	types := slices.Clone(p.respTypes)
	p.mu.Unlock()
	if types[len(types)-1] != "application/json" {
		t.Fatalf("the server answered with %q, want application/json", types)
	}
}

func TestHTTPGoSDKStateless(t *testing.T) {
	p, _ := startGoSDKPeer(t, &mcp.StreamableHTTPOptions{Stateless: true})
	h := newTestHTTP(t, Config{URL: p.srv.URL})
	rec := newHTTPRecorder()
	c := openConn(t, h, rec)
	handshake(t, c, rec, "2025-11-25")
	send(t, c, `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","arguments":{"text":"no session"}}}`)
	if d := rec.response(t, "4"); !strings.Contains(string(d.m.Result), "no session") {
		t.Fatalf("response %s", d.m.Raw)
	}
	c.(upstream.Listener).Listen(true) // a stateless server offers no GET stream (405)
	eventually(t, "the GET attempt", func() bool { return len(p.requests(http.MethodGet)) == 1 })
	c.Close()
	h.Wait()
	for _, r := range p.requests("") {
		if r.header.Get("Mcp-Session-Id") != "" {
			t.Errorf("%s %s carried a session id to a stateless server", r.method, r.body)
		}
	}
	if n := len(p.requests(http.MethodDelete)); n != 0 {
		t.Errorf("sent %d DELETEs to a stateless server", n)
	}
	if n := len(p.requests(http.MethodGet)); n != 1 {
		t.Errorf("sent %d GETs after a 405, want 1", n)
	}
}

func TestHTTPGoSDKSessionGoneEndsConn(t *testing.T) {
	p, srv := startGoSDKPeer(t, &mcp.StreamableHTTPOptions{})
	h := newTestHTTP(t, Config{URL: p.srv.URL})
	rec := newHTTPRecorder()
	c := openConn(t, h, rec)
	handshake(t, c, rec, "2025-11-25")

	// The server forgets the session (as after a restart or its timeout).
	req, _ := http.NewRequest(http.MethodDelete, p.srv.URL, nil)
	req.Header.Set("Mcp-Session-Id", p.sessionID(t))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	eventually(t, "the session ends", func() bool { return sessionCount(srv) == 0 })

	send(t, c, `{"jsonrpc":"2.0","id":5,"method":"tools/list"}`)
	select {
	case err := <-rec.closed:
		if !strings.Contains(err.Error(), "404") {
			t.Errorf("Closed(%v) should name the 404", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Closed was not called after the upstream 404")
	}
	if err := c.Send(context.Background(), mustParse(t, `{"jsonrpc":"2.0","id":6,"method":"ping"}`)); !errors.Is(err, upstream.ErrClosed) {
		t.Fatalf("Send after the upstream ended the session: %v", err)
	}
	c.Close()
	h.Wait()
	if n := len(p.requests(http.MethodDelete)); n != 1 {
		t.Errorf("%d DELETEs; a session the server ended needs none from us", n-1)
	}
}

func TestHTTPGoSDKPollingResumesWithGet(t *testing.T) {
	p, _ := startGoSDKPeer(t, &mcp.StreamableHTTPOptions{EventStore: mcp.NewMemoryEventStore(nil)})
	h := newTestHTTP(t, Config{URL: p.srv.URL})
	rec := newHTTPRecorder()
	c := openConn(t, h, rec)
	handshake(t, c, rec, "2025-11-25")

	send(t, c, `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"poll","arguments":{},"_meta":{"progressToken":9}}}`)
	d := rec.response(t, "9")
	if !strings.Contains(string(d.m.Result), "polled") || string(d.related) != "9" {
		t.Fatalf("response %s related %s", d.m.Raw, d.related)
	}
	time.Sleep(50 * time.Millisecond) // would a duplicate follow?
	var progress, responses int
	for _, d := range rec.all() {
		switch {
		case d.m.Method == "notifications/progress":
			progress++
		case string(d.m.ID) == "9":
			responses++
		}
	}
	if progress != 1 || responses != 1 {
		t.Fatalf("got %d progress notifications and %d responses, want 1 and 1:%s", progress, responses, rec.dump())
	}
	gets := p.requests(http.MethodGet)
	if len(gets) == 0 || gets[0].header.Get("Last-Event-Id") == "" {
		t.Fatalf("the stream was not resumed with GET and Last-Event-ID: %+v", gets)
	}
}

func TestHTTPGoSDKGetStreamFollowsListeners(t *testing.T) {
	p, srv := startGoSDKPeer(t, &mcp.StreamableHTTPOptions{})
	h := newTestHTTP(t, Config{URL: p.srv.URL, GetStreamGrace: 300 * time.Millisecond})
	rec := newHTTPRecorder()
	c := openConn(t, h, rec)
	handshake(t, c, rec, "2025-11-25")
	time.Sleep(50 * time.Millisecond)
	if n := len(p.requests(http.MethodGet)); n != 0 {
		t.Fatalf("a session nobody listens to opened %d GET streams", n)
	}

	l := c.(upstream.Listener)
	l.Listen(true)
	eventually(t, "the GET stream opens", func() bool { return p.activeGets.Load() == 1 })
	mcp.AddTool(srv, &mcp.Tool{Name: "late"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{}, nil, nil
	})
	d := rec.waitFor(t, 1, func(d delivery) bool { return d.m.Method == "notifications/tools/list_changed" })[0]
	if d.hasRel {
		t.Errorf("a GET stream message came as related to %s", d.related)
	}

	// A client that reconnects within the grace period finds the same stream.
	l.Listen(false)
	time.Sleep(50 * time.Millisecond)
	l.Listen(true)
	time.Sleep(350 * time.Millisecond)
	if n := len(p.requests(http.MethodGet)); n != 1 || p.activeGets.Load() != 1 {
		t.Fatalf("%d GETs, %d open; want the one stream held", n, p.activeGets.Load())
	}
	// Overlapping listeners count: one leaving keeps the stream.
	l.Listen(true)
	l.Listen(false)
	time.Sleep(350 * time.Millisecond)
	if p.activeGets.Load() != 1 {
		t.Fatal("the stream closed while a listener remained")
	}
	l.Listen(false)
	eventually(t, "the GET stream closes after the grace period", func() bool { return p.activeGets.Load() == 0 })
	l.Listen(true)
	eventually(t, "the GET stream reopens", func() bool { return p.activeGets.Load() == 1 })
	if gets := p.requests(http.MethodGet); gets[1].header.Get("Mcp-Session-Id") != p.sessionID(t) {
		t.Fatalf("GET carried session id %q", gets[1].header.Get("Mcp-Session-Id"))
	}
}
