package remote

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream/internal/upstreamtest"
)

// rawFor returns the raw client of a default transport to rawURL.
func rawFor(t *testing.T, rawURL string) *rawClient {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	c := newRawClient(defaultTransport(), u)
	if c == nil {
		t.Fatalf("no raw client for %s", rawURL)
	}
	t.Cleanup(func() { c.closeIdle(); c.tr.CloseIdleConnections() })
	return c
}

// rawPost makes one POST through rt and returns the body it read to the end.
func rawPost(ctx context.Context, t *testing.T, rt http.RoundTripper, target string) (string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(`{"x":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestRawClientEligible(t *testing.T) {
	h2c := defaultTransport()
	h2c.Protocols = new(http.Protocols)
	h2c.Protocols.SetUnencryptedHTTP2(true)
	proxied := defaultTransport()
	proxied.Proxy = http.ProxyURL(&url.URL{Scheme: "http", Host: "proxy.example:3128"})
	limited := defaultTransport()
	limited.MaxConnsPerHost = 4
	timed := defaultTransport()
	timed.ResponseHeaderTimeout = time.Second
	for _, c := range []struct {
		name string
		rt   http.RoundTripper
		url  string
		want bool
	}{
		{"plain http", defaultTransport(), "http://127.0.0.1:8080/mcp", true},
		{"no port", defaultTransport(), "http://localhost/mcp", true},
		{"https", defaultTransport(), "https://127.0.0.1:8443/mcp", false},
		{"not an http.Transport", roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("no") }), "http://127.0.0.1/mcp", false},
		{"h2c only", h2c, "http://127.0.0.1/mcp", false},
		{"through a proxy", proxied, "http://127.0.0.1/mcp", false},
		{"connection limit", limited, "http://127.0.0.1/mcp", false},
		{"transport's header timeout", timed, "http://127.0.0.1/mcp", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, _ := url.Parse(c.url)
			if got := newRawClient(c.rt, u) != nil; got != c.want {
				t.Errorf("raw client: %v, want %v", got, c.want)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRawClientReusesConnection: sequential requests, JSON and chunked
// answers, share one connection.
func TestRawClientReusesConnection(t *testing.T) {
	var conns atomic.Int32
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Query().Has("chunked") {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write([]byte("data: "))
			w.(http.Flusher).Flush()
		}
		_, _ = w.Write(b)
	}))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	defer ts.Close()
	c := rawFor(t, ts.URL)
	for i := range 20 {
		target := ts.URL + "/mcp"
		want := `{"x":1}`
		if i%2 == 1 {
			target += "?chunked"
			want = "data: " + want
		}
		got, err := rawPost(context.Background(), t, c, target)
		if err != nil || got != want {
			t.Fatalf("request %d: %q, %v; want %q", i, got, err, want)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 20 sequential requests, want 1", n)
	}
}

// TestRawClientServerClosedIdleConnection: a connection the server closed
// while idle (without saying so in the response) is not used again.
func TestRawClientServerClosedIdleConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	var accepted atomic.Int32
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			// One response per connection, then a close without a word.
			req, err := http.ReadRequest(bufio.NewReader(conn))
			if err == nil {
				_, _ = io.Copy(io.Discard, req.Body)
				_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}
			_ = conn.Close()
		}
	})
	target := "http://" + ln.Addr().String() + "/mcp"
	c := rawFor(t, target)
	for i := range 3 {
		if got, err := rawPost(context.Background(), t, c, target); err != nil || got != "ok" {
			t.Fatalf("request %d: %q, %v", i, got, err)
		}
		// Let the server's close arrive before the next request.
		deadline := time.Now().Add(5 * time.Second)
		for !closedByPeer(t, c) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	if n := accepted.Load(); n != 3 {
		t.Errorf("%d connections, want 3 (one per request)", n)
	}
	ln.Close()
}

// closedByPeer reports whether the pool's idle connection was closed by
// the server (or there is none).
func closedByPeer(t *testing.T, c *rawClient) bool {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.idle {
		if alive, _ := peekable(conn.sys); alive {
			return false
		}
	}
	return true
}

// TestRawClientCancel: cancelling a request ends a read that waits for the
// body at once, with the context's error, and the connection is dropped.
func TestRawClientCancel(t *testing.T) {
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer ts.Close()
	defer close(release)
	c := rawFor(t, ts.URL)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL, strings.NewReader("{}"))
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(resp.Body)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("read after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read did not end when the request was cancelled")
	}
	_ = resp.Body.Close()
	c.mu.Lock()
	idle := len(c.idle)
	c.mu.Unlock()
	if idle != 0 {
		t.Errorf("%d idle connections after a cancelled request, want 0", idle)
	}
}

// TestRawClientHeaderTooLarge: a response header beyond the transport's
// MaxResponseHeaderBytes is an error, not a read without end.
func TestRawClientHeaderTooLarge(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Big", strings.Repeat("a", 64<<10))
		_, _ = w.Write([]byte("{}"))
	}))
	defer ts.Close()
	tr := defaultTransport()
	tr.MaxResponseHeaderBytes = 4 << 10
	u, _ := url.Parse(ts.URL)
	c := newRawClient(tr, u)
	defer c.closeIdle()
	if _, err := rawPost(context.Background(), t, c, ts.URL); !errors.Is(err, errHeaderTooLarge) {
		t.Errorf("got %v, want %v", err, errHeaderTooLarge)
	}
}

// TestRawClientOtherHostFallsBack: a request to another host goes through
// the transport.
func TestRawClientOtherHostFallsBack(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("other")) }))
	defer ts.Close()
	c := rawFor(t, "http://127.0.0.1:1/mcp")
	if got, err := rawPost(context.Background(), t, c, ts.URL); err != nil || got != "other" {
		t.Fatalf("%q, %v", got, err)
	}
	c.mu.Lock()
	idle := len(c.idle)
	c.mu.Unlock()
	if idle != 0 {
		t.Errorf("the raw pool holds %d connections to another host", idle)
	}
}

// TestSendKeepsOrder: Send returns before a request's POST is written, yet
// the next message's POST starts only once the request is on the wire (as
// when Send waited for it).
func TestSendKeepsOrder(t *testing.T) {
	var mu sync.Mutex
	var log []string
	note := func(s string) {
		mu.Lock()
		log = append(log, s)
		mu.Unlock()
	}
	rt := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(req.Body)
		m, err := pipeline.Parse(b)
		if err != nil {
			return nil, err
		}
		note("start " + m.Method)
		if m.IsRequest() {
			time.Sleep(20 * time.Millisecond) // a slow write: what follows must wait
		}
		note("wrote " + m.Method)
		if trace := httptrace.ContextClientTrace(req.Context()); trace != nil && trace.WroteRequest != nil {
			trace.WroteRequest(httptrace.WroteRequestInfo{})
		}
		resp := &http.Response{StatusCode: http.StatusAccepted, Header: http.Header{}, Body: http.NoBody, Request: req}
		if m.IsRequest() {
			resp.StatusCode = http.StatusOK
			resp.Header.Set("Content-Type", "application/json")
			resp.Body = io.NopCloser(strings.NewReader(`{"jsonrpc":"2.0","id":` + string(m.ID) + `,"result":{}}`))
		}
		return resp, nil
	})
	h, err := NewHTTP(Config{URL: "http://127.0.0.1:1/mcp", Transport: rt})
	if err != nil {
		t.Fatal(err)
	}
	rec := make(upstreamtest.ChanReceiver, 64)
	conn, err := h.Open(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 3 {
		id := strconv.Itoa(i)
		if err := conn.Send(context.Background(), mustParse(t, `{"jsonrpc":"2.0","id":`+id+`,"method":"ping"}`)); err != nil {
			t.Fatal(err)
		}
		if err := conn.Send(context.Background(), mustParse(t, `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":`+id+`,"progress":1}}`)); err != nil {
			t.Fatal(err)
		}
		want = append(want, "start ping", "wrote ping", "start notifications/progress", "wrote notifications/progress")
		<-rec
	}
	conn.Close()
	h.Wait()
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(log, "\n") != strings.Join(want, "\n") {
		t.Errorf("the transport saw\n%s\nwant\n%s", strings.Join(log, "\n"), strings.Join(want, "\n"))
	}
}

// TestFollowChains: Sends that overlap still form one chain, so that a
// message sent after both waits for both requests' writes, not for the
// one that happened to set its channel last.
func TestFollowChains(t *testing.T) {
	for range 200 {
		c := &httpConn{ctx: context.Background()}
		a, b := make(chan struct{}), make(chan struct{})
		returned := make(chan chan struct{}, 2)
		for _, w := range []chan struct{}{a, b} {
			go func() {
				if err := c.follow(context.Background(), w); err != nil {
					t.Error(err)
				}
				returned <- w
			}()
		}
		first := <-returned
		for range 10 {
			runtime.Gosched() // a chance for the other to return too soon
		}
		select {
		case <-returned:
			t.Fatal("a Send overlapping another did not wait for its write: one after both would wait for one only")
		default:
		}
		close(first)
		second := <-returned
		c.mu.Lock()
		last := c.lastWritten
		c.mu.Unlock()
		if last != second {
			t.Fatal("the next message would not wait for the last request's write")
		}
		close(second)
	}
}

// TestFollowCancelledKeepsChain: a request whose Send gave up waiting
// sent nothing, but a message after it still follows the request before.
func TestFollowCancelledKeepsChain(t *testing.T) {
	h, err := NewHTTP(Config{URL: "http://127.0.0.1:1/mcp"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Wait()
	c := &httpConn{ctx: context.Background(), h: h}
	prev, mine := make(chan struct{}), make(chan struct{})
	c.lastWritten = prev
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.follow(ctx, mine); !errors.Is(err, context.Canceled) {
		t.Fatalf("follow = %v, want context.Canceled", err)
	}
	select {
	case <-mine:
		t.Fatal("the cancelled Send's channel closed before the write it followed")
	default:
	}
	close(prev)
	<-mine
}

// TestWriteRequest: writeRequest writes what Request.Write writes (read
// back by the server's parser), and refuses what http.Transport refuses.
func TestWriteRequest(t *testing.T) {
	for _, c := range []struct {
		name    string
		method  string
		url     string
		body    string
		header  http.Header
		host    string
		wantErr bool
	}{
		{name: "post", method: "POST", url: "http://up.example:8080/mcp", body: `{"jsonrpc":"2.0","id":1,"method":"ping"}`,
			header: http.Header{"Content-Type": {"application/json"}, "Mcp-Session-Id": {"s-1"}, "X-Two": {"a", " b "}}},
		{name: "get with a query", method: "GET", url: "http://up.example/mcp?key=v%20w", header: http.Header{"Accept": {"text/event-stream"}, "Last-Event-Id": {"7"}}},
		{name: "delete", method: "DELETE", url: "http://up.example/mcp"},
		{name: "empty post", method: "POST", url: "http://up.example/mcp"},
		{name: "own user agent and host", method: "POST", url: "http://up.example/mcp", body: "{}", header: http.Header{"User-Agent": {"mine"}}, host: "other.example"},
		{name: "value with a line break", method: "POST", url: "http://up.example/mcp", body: "{}", header: http.Header{"Authorization": {"Bearer x\r\nX-Evil: 1"}}, wantErr: true},
		{name: "bad name", method: "POST", url: "http://up.example/mcp", body: "{}", header: http.Header{"Bad Name": {"v"}}, wantErr: true},
		{name: "bad method", method: "PO ST", url: "http://up.example/mcp", body: "{}", wantErr: true},
		// A hop forwards the client's Host: Request.Write sends an empty
		// one rather than one that would add a header.
		{name: "host with a line break", method: "POST", url: "http://up.example/mcp", body: "{}", host: "a.example\r\nX-Evil: 1"},
		{name: "host with a zone", method: "POST", url: "http://up.example/mcp", body: "{}", host: "[fe80::1%25en0]:80"},
	} {
		t.Run(c.name, func(t *testing.T) {
			mk := func() *http.Request {
				var body io.Reader
				if c.body != "" {
					body = strings.NewReader(c.body)
				}
				req, err := http.NewRequest(http.MethodPost, c.url, body)
				if err != nil {
					t.Fatal(err)
				}
				req.Method = c.method // NewRequest refuses a bad one
				for k, v := range c.header {
					req.Header[k] = v
				}
				req.Host = c.host
				return req
			}
			var got, want strings.Builder
			gw, ww := bufio.NewWriter(&got), bufio.NewWriter(&want)
			if c.wantErr {
				// http.Transport refuses it before sending anything.
				_, terr := new(http.Transport).RoundTrip(mk())
				if gerr := writeRequest(gw, mk()); gerr == nil || terr == nil || gerr.Error() != terr.Error() {
					t.Errorf("writeRequest: %v; http.Transport: %v", gerr, terr)
				}
				return
			}
			if err := writeRequest(gw, mk()); err != nil {
				t.Fatal(err)
			}
			if err := mk().Write(ww); err != nil {
				t.Fatal(err)
			}
			_, _ = gw.Flush(), ww.Flush()
			read := func(s string) *http.Request {
				r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(s)))
				if err != nil {
					t.Fatalf("%v in %q", err, s)
				}
				b, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(strings.NewReader(string(b)))
				return r
			}
			g, w := read(got.String()), read(want.String())
			gb, _ := io.ReadAll(g.Body)
			wb, _ := io.ReadAll(w.Body)
			if g.Method != w.Method || g.RequestURI != w.RequestURI || g.Host != w.Host || g.ContentLength != w.ContentLength ||
				string(gb) != string(wb) || fmt.Sprint(g.Header) != fmt.Sprint(w.Header) {
				t.Errorf("writeRequest wrote\n%q\nRequest.Write\n%q", got.String(), want.String())
			}
		})
	}
}

// TestMediaType: the exact forms servers send take a shortcut; every
// value reads as mime.ParseMediaType reads it.
func TestMediaType(t *testing.T) {
	for _, c := range []struct{ v, want string }{
		{"text/event-stream", "text/event-stream"},
		{"application/json", "application/json"},
		{"application/json; charset=utf-8", "application/json"},
		{"Text/Event-Stream", "text/event-stream"},
		{"", ""},
		{"not a type;", ""},
	} {
		if got := mediaType(http.Header{"Content-Type": {c.v}}); got != c.want {
			t.Errorf("mediaType(%q) = %q, want %q", c.v, got, c.want)
		}
	}
}

// TestRawClientClosesStale: connections idle past IdleConnTimeout are
// closed by the sweep and never handed out again; fresh ones stay.
func TestRawClientClosesStale(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer ts.Close()
	c := rawFor(t, ts.URL)
	if _, err := rawPost(context.Background(), t, c, ts.URL); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	if len(c.idle) != 1 {
		c.mu.Unlock()
		t.Fatalf("%d idle connections, want 1", len(c.idle))
	}
	stale := c.idle[0]
	stale.used = time.Now().Add(-2 * c.idleTimeout)
	c.mu.Unlock()
	if c.reusable(stale) {
		t.Error("a connection idle past the timeout is reusable")
	}
	c.closeStale()
	c.mu.Lock()
	idle := len(c.idle)
	c.mu.Unlock()
	if idle != 0 {
		t.Errorf("%d idle connections after the sweep, want 0", idle)
	}
	if _, err := stale.Read(make([]byte, 1)); err == nil {
		t.Error("the stale connection is still open")
	}
	if got, err := rawPost(context.Background(), t, c, ts.URL); err != nil || got != "ok" {
		t.Fatalf("after the sweep: %q, %v", got, err)
	}
}

// TestRawClientRetriesUnansweredOnReusedConnection: a connection the server
// closes under the next request without answering (a Caddy reload closing
// the old server's idle connections as the request is written) fails that
// request unless it is replayable (http.Transport's rule); a replayable one
// is sent again on a new connection, once.
func TestRawClientRetriesUnansweredOnReusedConnection(t *testing.T) {
	for _, tc := range []struct {
		name      string
		method    string
		header    http.Header
		wantRetry bool
	}{
		{"POST", http.MethodPost, nil, false},
		{"POST with an unsent Idempotency-Key", http.MethodPost, http.Header{"Idempotency-Key": nil}, true},
		{"POST with X-Idempotency-Key", http.MethodPost, http.Header{"X-Idempotency-Key": {"k"}}, true},
		{"GET", http.MethodGet, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, accepted := serveThenDropSecond(t)
			c := rawFor(t, target)
			send := func() (string, error) {
				var body io.Reader
				if tc.method == http.MethodPost {
					body = strings.NewReader(`{"x":1}`)
				}
				req, err := http.NewRequest(tc.method, target, body)
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range tc.header {
					req.Header[k] = v
				}
				resp, err := c.RoundTrip(req)
				if err != nil {
					return "", err
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				return string(b), err
			}
			if got, err := send(); err != nil || got != "ok" {
				t.Fatalf("first request: %q, %v", got, err)
			}
			got, err := send()
			if tc.wantRetry && (err != nil || got != "ok") {
				t.Fatalf("second request: %q, %v; want it sent again on a new connection", got, err)
			}
			if !tc.wantRetry && err == nil {
				t.Fatalf("second request answered %q: sent again though not replayable", got)
			}
			if want := int32(1 + btoi(tc.wantRetry)); accepted.Load() != want {
				t.Errorf("%d connections, want %d", accepted.Load(), want)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// serveThenDropSecond runs a server whose first connection answers one
// request (keep-alive) and is closed, unanswered, once the next request
// has come; later connections answer every request.
func serveThenDropSecond(t *testing.T) (target string, accepted *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int32)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			n := accepted.Add(1)
			wg.Go(func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for i := 0; ; i++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					if n == 1 && i == 1 {
						return // closed under the request, without a word
					}
					_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			})
		}
	})
	return "http://" + ln.Addr().String() + "/mcp", accepted
}
