//lint:file-ignore SA1019 sampling is deprecated from 2026-07-28 on, and part of the 2024-11-05 revision tested here.

package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// newLegacyGoSDKServer is newGoSDKServer plus a tool that asks the client
// for sampling and returns the sampled text.
func newLegacyGoSDKServer() *mcp.Server {
	s := newGoSDKServer()
	mcp.AddTool(s, &mcp.Tool{Name: "sample"}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		res, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{
			MaxTokens: 10,
			Messages:  []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: "say something"}}},
		})
		if err != nil {
			return nil, nil, err
		}
		text, _ := res.Content.(*mcp.TextContent)
		if text == nil {
			return nil, nil, errors.New("sampling returned no text")
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "sampled: " + text.Text}}}, nil, nil
	})
	return s
}

// startSSEPeer serves the go-sdk's 2024-11-05 HTTP+SSE handler behind
// httptest, at /sse (it answers the POSTs on the same path with ?sessionid).
func startSSEPeer(t *testing.T, opts *mcp.SSEOptions) (*peer, *mcp.Server) {
	t.Helper()
	s := newLegacyGoSDKServer()
	return startPeer(t, mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return s }, opts)), s
}

func newTestLegacy(t *testing.T, cfg Config) *SSE2024 {
	t.Helper()
	cfg.VerboseErrors = true // these tests read the detail of failures
	l, err := NewSSE2024(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.Wait()
		l.CloseIdleConnections()
	})
	return l
}

func openUpstream(t *testing.T, u upstream.Upstream, r upstream.Receiver) upstream.Conn {
	t.Helper()
	c, err := u.Open(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// legacyInitialize is an initialize that declares sampling.
const legacyInitialize = `{"jsonrpc":"2.0","id":"init-1","method":"initialize","params":{"protocolVersion":"2024-11-05",` +
	`"capabilities":{"sampling":{}},"clientInfo":{"name":"upstream-test","version":"1"}}}`

func legacyHandshake(t *testing.T, c upstream.Conn, rec *httpRecorder) delivery {
	t.Helper()
	send(t, c, legacyInitialize)
	d := rec.response(t, `"init-1"`)
	if d.m.Error != nil {
		t.Fatalf("initialize failed: %s", d.m.Raw)
	}
	send(t, c, initializedMsg)
	return d
}

func waitClosed(t *testing.T, rec *httpRecorder) error {
	t.Helper()
	select {
	case err := <-rec.closed:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Closed was not called")
		return nil
	}
}

func requireNotClosed(t *testing.T, rec *httpRecorder) {
	t.Helper()
	select {
	case err := <-rec.closed:
		t.Fatalf("Closed(%v) was called", err)
	default:
	}
}

// gatewayError decodes the data of a made-up error response.
func gatewayError(t *testing.T, m *pipeline.Message) (string, upstream.GatewayError) {
	t.Helper()
	var e struct {
		Message string                `json:"message"`
		Data    upstream.GatewayError `json:"data"`
	}
	if m.Error == nil || json.Unmarshal(m.Error, &e) != nil {
		t.Fatalf("not an error response: %s", m.Raw)
	}
	return e.Message, e.Data
}

func TestSSE2024GoSDKSession(t *testing.T) {
	p, srv := startSSEPeer(t, nil)
	l := newTestLegacy(t, Config{URL: p.srv.URL + "/sse"})
	rec := newHTTPRecorder()
	c := openUpstream(t, l, rec)
	time.Sleep(20 * time.Millisecond)
	if n := len(p.requests("")); n != 0 {
		t.Fatalf("Open made %d requests; nothing should happen before the first Send", n)
	}

	init := legacyHandshake(t, c, rec)
	if init.m.ResultProtocolVersion() != "2024-11-05" || init.hasRel {
		t.Fatalf("initialize response %s (related %v)", init.m.Raw, init.hasRel)
	}
	send(t, c, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello over SSE"}}}`)
	if d := rec.response(t, "7"); !strings.Contains(string(d.m.Result), "hello over SSE") {
		t.Fatalf("tools/call response %s", d.m.Raw)
	}

	// Progress notifications arrive on the stream, in order, before the result.
	send(t, c, `{"jsonrpc":"2.0","id":"p","method":"tools/call","params":{"name":"progress","arguments":{"n":3},"_meta":{"progressToken":"tok"}}}`)
	rec.response(t, `"p"`)
	var seq []string
	for _, d := range rec.all() {
		if d.m.Method == "notifications/progress" || string(d.m.ID) == `"p"` {
			var pr struct {
				Progress float64 `json:"progress"`
			}
			_ = json.Unmarshal(d.m.Params, &pr)
			seq = append(seq, fmt.Sprintf("%s:%g", d.m.Kind, pr.Progress))
		}
	}
	if got := strings.Join(seq, " "); got != "notification:1 notification:2 notification:3 response:0" {
		t.Fatalf("delivery order %s", got)
	}

	// A server request (sampling) arrives on the stream; the client's
	// response, sent back, reaches the server.
	send(t, c, `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"sample","arguments":{}}}`)
	sreq := rec.waitFor(t, 1, func(d delivery) bool { return d.m.Method == "sampling/createMessage" })[0]
	if !sreq.m.IsRequest() {
		t.Fatalf("sampling request %s", sreq.m.Raw)
	}
	send(t, c, `{"jsonrpc":"2.0","id":`+string(sreq.m.ID)+`,"result":{"role":"assistant","content":{"type":"text","text":"sampled text"},"model":"m"}}`)
	if d := rec.response(t, "8"); !strings.Contains(string(d.m.Result), "sampled: sampled text") {
		t.Fatalf("sampling tool response %s", d.m.Raw)
	}

	gets, posts := p.requests(http.MethodGet), p.requests(http.MethodPost)
	if len(gets) != 1 || len(posts) != 6 {
		t.Fatalf("%d GETs and %d POSTs, want 1 and 6", len(gets), len(posts))
	}
	if posts[2].body != `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello over SSE"}}}` {
		t.Errorf("the body was not forwarded byte for byte: %s", posts[2].body)
	}
	if sessionCount(srv) != 1 {
		t.Fatalf("server has %d sessions, want 1", sessionCount(srv))
	}

	// Close ends the GET, which ends the server's session; no DELETE.
	c.Close()
	eventually(t, "the GET stream closes", func() bool { return p.activeGets.Load() == 0 })
	eventually(t, "the server session ends", func() bool { return sessionCount(srv) == 0 })
	l.Wait()
	if n := len(p.requests(http.MethodDelete)); n != 0 {
		t.Errorf("%d DELETEs; 2024-11-05 has none", n)
	}
	requireNotClosed(t, rec)
	if err := c.Send(context.Background(), mustParse(t, `{"jsonrpc":"2.0","id":9,"method":"ping"}`)); !errors.Is(err, upstream.ErrClosed) {
		t.Fatalf("Send after Close: %v, want ErrClosed", err)
	}
}

func TestSSE2024ServerEndsSession(t *testing.T) {
	p, srv := startSSEPeer(t, nil)
	l := newTestLegacy(t, Config{URL: p.srv.URL})
	rec := newHTTPRecorder()
	c := openUpstream(t, l, rec)
	legacyHandshake(t, c, rec)
	for ss := range srv.Sessions() {
		_ = ss.Close()
	}
	err := waitClosed(t, rec)
	if err == nil || !strings.Contains(err.Error(), "SSE stream ended") || !strings.Contains(err.Error(), p.srv.URL) {
		t.Fatalf("Closed(%v) should say the SSE stream of %s ended", err, p.srv.URL)
	}
	if err := c.Send(context.Background(), mustParse(t, `{"jsonrpc":"2.0","id":2,"method":"ping"}`)); !errors.Is(err, upstream.ErrClosed) ||
		!strings.Contains(err.Error(), "SSE stream ended") {
		t.Fatalf("Send after the server ended the session: %v", err)
	}
}

func TestSSE2024Headers(t *testing.T) {
	// The go-sdk refuses a non-loopback Host on loopback unless told not to.
	p, _ := startSSEPeer(t, &mcp.SSEOptions{DisableLocalhostProtection: true})
	for _, host := range []string{"", "upstream.example"} {
		t.Run("host="+host, func(t *testing.T) {
			var calls int
			l := newTestLegacy(t, Config{URL: p.srv.URL + "/sse", Headers: func(ctx context.Context) http.Header {
				calls++
				h := http.Header{"X-Api-Key": {"upstream-key"}, "Mcp-Session-Id": {"forged"}, "Accept": {"text/html"}}
				if host != "" {
					h.Set("Host", host)
				}
				return h
			}})
			rec := newHTTPRecorder()
			c := openUpstream(t, l, rec)
			legacyHandshake(t, c, rec)
			send(t, c, `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`)
			rec.response(t, "3")
			if calls != 1 {
				t.Errorf("Headers called %d times, want once (in Open)", calls)
			}
			want := host
			if want == "" {
				want = p.srv.Listener.Addr().String()
			}
			reqs := p.requests("")
			for _, r := range reqs[len(reqs)-4:] {
				if r.host != want {
					t.Errorf("%s: Host %q, want %q", r.method, r.host, want)
				}
				if r.header.Get("X-Api-Key") != "upstream-key" {
					t.Errorf("%s without the configured header: %v", r.method, r.header)
				}
				for _, h := range []string{"Authorization", "Mcp-Session-Id", "Mcp-Protocol-Version", "Last-Event-Id"} {
					if v := r.header.Get(h); v != "" {
						t.Errorf("%s carried %s: %q", r.method, h, v)
					}
				}
				switch r.method {
				case http.MethodGet:
					if r.header.Get("Accept") != "text/event-stream" {
						t.Errorf("GET Accept %q", r.header.Get("Accept"))
					}
				case http.MethodPost:
					if r.header.Get("Content-Type") != "application/json" {
						t.Errorf("POST Content-Type %q", r.header.Get("Content-Type"))
					}
				}
			}
		})
	}
}

func TestResolveEndpoint(t *testing.T) {
	for _, tt := range []struct {
		base, data, want string
	}{
		{"http://h:8080/mcp/sse", "/mcp/messages?sessionid=1", "http://h:8080/mcp/messages?sessionid=1"},
		{"http://h:8080/mcp/sse", "messages?sessionid=1", "http://h:8080/mcp/messages?sessionid=1"},
		{"http://h:8080/sse", "?sessionid=1", "http://h:8080/sse?sessionid=1"},
		{"http://h:8080/sse", " http://h:8080/messages?s=1#frag \n", "http://h:8080/messages?s=1"},
		{"https://h/sse", "https://H:443/messages", "https://H:443/messages"},
		{"http://h/sse", "//h:80/messages", "http://h:80/messages"},
		{"http://h:8080/sse", "http://other:8080/messages", ""},
		{"http://h:8080/sse", "//other:8080/messages", ""},
		{"http://h:8080/sse", "https://h:8080/messages", ""},
		{"http://h:8080/sse", "http://h:8081/messages", ""},
		{"http://h:8080/sse", "http://user:pw@h:8080/messages", ""},
		{"http://h:8080/sse", "", ""},
		{"http://h:8080/sse", "http://[::1", ""},
	} {
		got, err := resolveEndpoint(tt.base, tt.data)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("resolveEndpoint(%q, %q) = %q, %v; want %q", tt.base, tt.data, got, err, tt.want)
		}
	}
}

// fakeSSE is a hand-written 2024-11-05 server for what the go-sdk's cannot
// show: its GET sends endpoint (if set) and holds the stream; its POSTs are
// answered with postStatus and, for 202, echoed on the stream as a response.
type fakeSSE struct {
	endpoint   func(base string) string // nil: no endpoint event
	postStatus int
	stream     chan string // events to write on the open stream
}

func (f *fakeSSE) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		_, _ = fmt.Fprint(w, ": hello\n\n")
		if f.endpoint != nil {
			_, _ = fmt.Fprintf(w, "event: endpoint\ndata: %s\n\n", f.endpoint("http://"+r.Host))
		}
		w.(http.Flusher).Flush()
		for {
			select {
			case ev := <-f.stream:
				_, _ = fmt.Fprint(w, ev)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	case http.MethodPost:
		if f.postStatus != http.StatusAccepted {
			http.Error(w, "fake: refused", f.postStatus)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		var m struct {
			ID json.RawMessage `json:"id"`
		}
		body, _, _ := readBounded(r.Body, 1<<20)
		if json.Unmarshal(body, &m) == nil && m.ID != nil {
			f.stream <- `data: {"jsonrpc":"2.0","id":` + string(m.ID) + `,"result":{"path":"` + r.URL.Path + `"}}` + "\n\n"
		}
	}
}

func newFakeSSE(endpoint func(string) string, postStatus int) *fakeSSE {
	return &fakeSSE{endpoint: endpoint, postStatus: postStatus, stream: make(chan string, 16)}
}

func TestSSE2024EndpointResolution(t *testing.T) {
	for _, tt := range []struct {
		name     string
		endpoint func(base string) string
		wantPath string // "" means refused
	}{
		{"relative", func(string) string { return "messages?session=1" }, "/mcp/messages"},
		{"absolute path", func(string) string { return "/rpc?session=1" }, "/rpc"},
		{"absolute URL", func(base string) string { return base + "/abs?session=1" }, "/abs"},
		{"other origin", func(string) string { return "http://attacker.example/steal" }, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := startPeer(t, newFakeSSE(tt.endpoint, http.StatusAccepted))
			l := newTestLegacy(t, Config{URL: p.srv.URL + "/mcp/sse"})
			rec := newHTTPRecorder()
			c := openUpstream(t, l, rec)
			send(t, c, legacyInitialize)
			d := rec.response(t, `"init-1"`)
			if tt.wantPath == "" {
				msg, data := gatewayError(t, d.m)
				if !strings.Contains(msg, "attacker.example") || !strings.Contains(msg, "origin") || data.CorrelationID == "" {
					t.Fatalf("error response %s", d.m.Raw)
				}
				if upstream.GatewayStatus(d.m) != http.StatusBadGateway {
					t.Errorf("GatewayStatus %d", upstream.GatewayStatus(d.m))
				}
				if n := len(p.requests(http.MethodPost)); n != 0 {
					t.Fatalf("%d POSTs went out", n)
				}
				// A notification is refused with the same error.
				if err := c.Send(context.Background(), mustParse(t, initializedMsg)); err == nil || !strings.Contains(err.Error(), "origin") {
					t.Fatalf("notification Send: %v", err)
				}
				return
			}
			if !strings.Contains(string(d.m.Result), `"path":"`+tt.wantPath+`"`) {
				t.Fatalf("response %s, want POST path %s", d.m.Raw, tt.wantPath)
			}
			requireNotClosed(t, rec)
		})
	}
}

func TestSSE2024Failures(t *testing.T) {
	t.Run("dead URL", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + ln.Addr().String() + "/sse"
		ln.Close()
		l := newTestLegacy(t, Config{URL: url})
		rec := newHTTPRecorder()
		c := openUpstream(t, l, rec)
		send(t, c, legacyInitialize)
		d := rec.response(t, `"init-1"`)
		msg, data := gatewayError(t, d.m)
		if !strings.Contains(msg, "refused") || !strings.HasPrefix(msg, "upstream MCP server "+url+": ") || data.CorrelationID == "" {
			t.Fatalf("error response %s", d.m.Raw)
		}
		if upstream.GatewayStatus(d.m) != http.StatusBadGateway {
			t.Errorf("GatewayStatus %d, want 502", upstream.GatewayStatus(d.m))
		}
		requireNotClosed(t, rec)
	})
	t.Run("no endpoint in time", func(t *testing.T) {
		p := startPeer(t, newFakeSSE(nil, http.StatusAccepted))
		l := newTestLegacy(t, Config{URL: p.srv.URL, ResponseHeaderTimeout: 200 * time.Millisecond})
		rec := newHTTPRecorder()
		c := openUpstream(t, l, rec)
		began := time.Now()
		send(t, c, legacyInitialize)
		d := rec.response(t, `"init-1"`)
		if took := time.Since(began); took > 5*time.Second {
			t.Errorf("the failure took %s", took)
		}
		msg, _ := gatewayError(t, d.m)
		if !strings.Contains(msg, "no endpoint event on the SSE stream within 200ms") || upstream.GatewayStatus(d.m) != http.StatusGatewayTimeout {
			t.Fatalf("error response %s (GatewayStatus %d)", d.m.Raw, upstream.GatewayStatus(d.m))
		}
		eventually(t, "the stream is closed", func() bool { return p.activeGets.Load() == 0 })
	})
	t.Run("GET refused", func(t *testing.T) {
		// A Streamable HTTP server: no GET stream without a session.
		p, _ := startGoSDKPeer(t, &mcp.StreamableHTTPOptions{})
		l := newTestLegacy(t, Config{URL: p.srv.URL})
		rec := newHTTPRecorder()
		c := openUpstream(t, l, rec)
		send(t, c, legacyInitialize)
		msg, data := gatewayError(t, rec.response(t, `"init-1"`).m)
		if !strings.Contains(msg, "opening the SSE stream: 4") || !strings.Contains(msg, "2024-11-05 SSE endpoint") || data.UpstreamStatus < 400 {
			t.Fatalf("error %q, data %+v", msg, data)
		}
	})
	t.Run("POST refused", func(t *testing.T) {
		p := startPeer(t, newFakeSSE(func(string) string { return "/messages" }, http.StatusInternalServerError))
		l := newTestLegacy(t, Config{URL: p.srv.URL})
		rec := newHTTPRecorder()
		c := openUpstream(t, l, rec)
		send(t, c, legacyInitialize)
		msg, data := gatewayError(t, rec.response(t, `"init-1"`).m)
		if !strings.Contains(msg, "the POST to the message endpoint was answered 500 Internal Server Error: fake: refused") ||
			data.UpstreamStatus != http.StatusInternalServerError {
			t.Fatalf("error %q, data %+v", msg, data)
		}
		if err := c.Send(context.Background(), mustParse(t, initializedMsg)); err == nil || !strings.Contains(err.Error(), "500") {
			t.Fatalf("notification Send: %v", err)
		}
		requireNotClosed(t, rec)
	})
	t.Run("POST 404 ends the session", func(t *testing.T) {
		p := startPeer(t, newFakeSSE(func(string) string { return "/messages" }, http.StatusNotFound))
		l := newTestLegacy(t, Config{URL: p.srv.URL})
		rec := newHTTPRecorder()
		c := openUpstream(t, l, rec)
		send(t, c, legacyInitialize)
		msg, _ := gatewayError(t, rec.response(t, `"init-1"`).m)
		if !strings.Contains(msg, "no longer knows the session") {
			t.Fatalf("error %q", msg)
		}
		if err := waitClosed(t, rec); err == nil || !strings.Contains(err.Error(), "404") {
			t.Fatalf("Closed(%v)", err)
		}
		eventually(t, "the stream is closed", func() bool { return p.activeGets.Load() == 0 })
	})
	t.Run("first event not endpoint", func(t *testing.T) {
		f := newFakeSSE(nil, http.StatusAccepted)
		f.stream <- "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/hello\"}\n\n"
		p := startPeer(t, f)
		l := newTestLegacy(t, Config{URL: p.srv.URL})
		rec := newHTTPRecorder()
		c := openUpstream(t, l, rec)
		send(t, c, legacyInitialize)
		msg, _ := gatewayError(t, rec.response(t, `"init-1"`).m)
		if !strings.Contains(msg, `the first event of the SSE stream is "", want "endpoint"`) {
			t.Fatalf("error %q", msg)
		}
	})
}

// TestSSE2024ManyRequests sends concurrent requests on one session: every
// one is answered, with at most MaxInFlight POSTs at a time.
func TestSSE2024ManyRequests(t *testing.T) {
	p, _ := startSSEPeer(t, nil)
	l := newTestLegacy(t, Config{URL: p.srv.URL, MaxInFlight: 2})
	rec := newHTTPRecorder()
	c := openUpstream(t, l, rec)
	legacyHandshake(t, c, rec)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			send(t, c, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":"n%d"}}}`, 100+i, i))
		})
	}
	wg.Wait()
	for i := range 20 {
		if d := rec.response(t, fmt.Sprint(100+i)); !strings.Contains(string(d.m.Result), fmt.Sprintf(`"n%d"`, i)) {
			t.Fatalf("response %s", d.m.Raw)
		}
	}
}

// TestSSE2024CloseDuringStart closes the conn while the first Send waits
// for the endpoint: Send returns, nothing is delivered, nothing leaks.
func TestSSE2024CloseDuringStart(t *testing.T) {
	p := startPeer(t, newFakeSSE(nil, http.StatusAccepted))
	l := newTestLegacy(t, Config{URL: p.srv.URL})
	rec := newHTTPRecorder()
	c := openUpstream(t, l, rec)
	errc := make(chan error, 1)
	go func() { errc <- c.Send(context.Background(), mustParse(t, initializedMsg)) }()
	eventually(t, "the GET is open", func() bool { return p.activeGets.Load() == 1 })
	c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, upstream.ErrClosed) {
			t.Fatalf("Send: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Send did not return after Close")
	}
	l.Wait()
	eventually(t, "the GET ends", func() bool { return p.activeGets.Load() == 0 })
	if n := len(rec.all()); n != 0 {
		t.Fatalf("%d deliveries after Close", n)
	}
	requireNotClosed(t, rec)
}

// probeCounter counts the POSTs that are Streamable HTTP (no sessionid in
// the query: the go-sdk SSE handler's message endpoint always has one).
type probeCounter struct {
	next http.Handler
	mu   sync.Mutex
	n    int
}

func (p *probeCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && !strings.Contains(r.URL.RawQuery, "sessionid=") {
		p.mu.Lock()
		p.n++
		p.mu.Unlock()
	}
	p.next.ServeHTTP(w, r)
}

func (p *probeCounter) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func newTestAuto(t *testing.T, cfg Config) *Auto {
	t.Helper()
	a, err := NewAuto(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Wait()
		a.CloseIdleConnections()
	})
	return a
}

func TestAutoPicksSSE(t *testing.T) {
	s := newLegacyGoSDKServer()
	probes := &probeCounter{next: mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return s }, nil)}
	p := startPeer(t, probes)
	a := newTestAuto(t, Config{URL: p.srv.URL + "/sse"})
	if a.Transport() != "" {
		t.Fatalf("transport %q before any session", a.Transport())
	}
	for i := range 2 {
		rec := newHTTPRecorder()
		c := openUpstream(t, a, rec)
		init := legacyHandshake(t, c, rec)
		if init.m.ResultProtocolVersion() != "2024-11-05" {
			t.Fatalf("session %d: initialize response %s", i, init.m.Raw)
		}
		send(t, c, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"auto"}}}`)
		if d := rec.response(t, "7"); !strings.Contains(string(d.m.Result), "auto") {
			t.Fatalf("session %d: tools/call response %s", i, d.m.Raw)
		}
		if n := len(rec.all()); n != 2 {
			t.Fatalf("session %d: %d deliveries, want the two responses:%s", i, n, rec.dump())
		}
		if a.Transport() != "sse" {
			t.Fatalf("session %d: transport %q, want sse", i, a.Transport())
		}
		// The first session probed with one Streamable POST; the second
		// went straight to HTTP+SSE.
		if probes.count() != 1 {
			t.Fatalf("session %d: %d Streamable HTTP POSTs, want the one probe", i, probes.count())
		}
	}
	if sessionCount(s) != 2 {
		t.Fatalf("server has %d sessions, want 2", sessionCount(s))
	}
	before := len(p.requests(""))
	err := a.Call(context.Background(), &upstream.StatelessRequest{Message: mustParse(t, `{"jsonrpc":"2.0","id":1,"method":"server/discover"}`)},
		func(*pipeline.Message, int) { t.Error("Call delivered") })
	if !errors.Is(err, upstream.ErrSessionfulOnly) || len(p.requests("")) != before {
		t.Fatalf("Call on an HTTP+SSE upstream: %v after %d requests, want ErrSessionfulOnly without asking", err, len(p.requests(""))-before)
	}
}

func TestAutoPicksStreamable(t *testing.T) {
	p, srv := startGoSDKPeer(t, &mcp.StreamableHTTPOptions{})
	a := newTestAuto(t, Config{URL: p.srv.URL})
	for i := range 2 {
		rec := newHTTPRecorder()
		c := openUpstream(t, a, rec)
		if _, probing := c.(*autoConn); probing != (i == 0) {
			t.Fatalf("session %d: conn %T", i, c)
		}
		init := handshake(t, c, rec, "2025-11-25")
		if string(init.related) != `"init-1"` {
			t.Fatalf("initialize not related: %s", init.related)
		}
		send(t, c, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"streamable"}}}`)
		if d := rec.response(t, "7"); !strings.Contains(string(d.m.Result), "streamable") {
			t.Fatalf("tools/call response %s", d.m.Raw)
		}
		if a.Transport() != "streamable" {
			t.Fatalf("transport %q, want streamable", a.Transport())
		}
		c.(upstream.Listener).Listen(true)
		eventually(t, "the GET stream opens", func() bool { return p.activeGets.Load() == 1 })
		c.Close()
		eventually(t, "the GET stream closes", func() bool { return p.activeGets.Load() == 0 })
	}
	eventually(t, "the DELETEs end the sessions", func() bool { return sessionCount(srv) == 0 })
	for _, r := range p.requests(http.MethodGet) {
		if r.header.Get("Mcp-Session-Id") == "" {
			t.Fatal("a GET without a session: HTTP+SSE was tried")
		}
	}
}

func TestAutoNoFallback(t *testing.T) {
	t.Run("JSON-RPC error", func(t *testing.T) {
		// A Streamable HTTP server that refuses initialize with its own
		// JSON-RPC error: that is its answer, not a reason to fall back.
		p := startPeer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = fmt.Fprint(w, `{"jsonrpc":"2.0","id":"init-1","error":{"code":-32602,"message":"unsupported protocol version"}}`)
		}))
		a := newTestAuto(t, Config{URL: p.srv.URL})
		rec := newHTTPRecorder()
		c := openUpstream(t, a, rec)
		send(t, c, legacyInitialize)
		if d := rec.response(t, `"init-1"`); !strings.Contains(string(d.m.Error), "unsupported protocol version") {
			t.Fatalf("response %s", d.m.Raw)
		}
		if n := len(p.requests(http.MethodGet)); n != 0 || a.Transport() != "" {
			t.Fatalf("%d GETs, transport %q", n, a.Transport())
		}
	})
	t.Run("neither transport", func(t *testing.T) {
		p := startPeer(t, http.NotFoundHandler())
		a := newTestAuto(t, Config{URL: p.srv.URL + "/nothing", VerboseErrors: true})
		for range 2 {
			rec := newHTTPRecorder()
			c := openUpstream(t, a, rec)
			send(t, c, legacyInitialize)
			msg, data := gatewayError(t, rec.response(t, `"init-1"`).m)
			if !strings.Contains(msg, "refused the Streamable HTTP POST of initialize with 404 Not Found") ||
				!strings.Contains(msg, "opening the SSE stream: 404 Not Found") || data.UpstreamStatus != http.StatusNotFound {
				t.Fatalf("error %q, data %+v", msg, data)
			}
			if a.Transport() != "" {
				t.Fatalf("a failure settled the transport %q", a.Transport())
			}
		}
		if posts, gets := len(p.requests(http.MethodPost)), len(p.requests(http.MethodGet)); posts != 2 || gets != 2 {
			t.Fatalf("%d POSTs and %d GETs, want each session to probe", posts, gets)
		}
	})
	t.Run("server down", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + ln.Addr().String()
		ln.Close()
		a := newTestAuto(t, Config{URL: url})
		rec := newHTTPRecorder()
		c := openUpstream(t, a, rec)
		send(t, c, legacyInitialize)
		msg, _ := gatewayError(t, rec.response(t, `"init-1"`).m)
		if !strings.Contains(msg, "refused") || strings.Contains(msg, "SSE") || a.Transport() != "" {
			t.Fatalf("error %q, transport %q", msg, a.Transport())
		}
	})
}
