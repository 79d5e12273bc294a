package front

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/seal"
)

// node is an instance of a cluster whose sessions no other instance can
// join (the fake upstream, as a stdio one): its own store, upstream,
// listener and Hops, as a process of its own has.
type node struct {
	srv   *Server
	store *Store
	up    *fakeUpstream
	ts    *httptest.Server
	c     *Cluster
}

func newNode(t *testing.T, ring *seal.Ring) *node {
	t.Helper()
	n := &node{store: NewStore(Limits{}, nil), up: newFakeUpstream()}
	n.c = &Cluster{Ring: ring, Endpoint: "api", Hops: NewHops()}
	var err error
	if n.srv, err = New(Config{Upstream: n.up, Store: n.store, Cluster: n.c, Clients: headerUsers}); err != nil {
		t.Fatal(err)
	}
	n.ts = httptest.NewServer(n.srv)
	n.c.Node = n.ts.URL
	t.Cleanup(n.stop)
	return n
}

// stop is the process's end: its listener closes, its sessions end.
func (n *node) stop() {
	n.srv.Exit()
	n.ts.CloseClientConnections()
	n.ts.Close()
	n.store.Close("the instance stops")
	n.up.releaseAll()
	n.up.wg.Wait()
	n.c.Hops.CloseIdleConnections()
}

// send sends one request to url as user and returns the status and body.
func send(t *testing.T, ctx context.Context, method, url, sid, user, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	r.Header.Set("Mcp-Protocol-Version", Version20250618)
	if sid != "" {
		r.Header.Set("Mcp-Session-Id", sid)
	}
	if user != "" {
		r.Header.Set("X-Test-User", user)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodGet && resp.StatusCode == http.StatusOK {
		return resp, "" // a stream: the caller reads it
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// begin initializes a session of user on n and returns its id.
func begin(t *testing.T, n *node, user string) string {
	t.Helper()
	resp, body := send(t, context.Background(), http.MethodPost, n.ts.URL, "", user, initBody(Version20250618))
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != http.StatusOK || sid == "" {
		t.Fatalf("initialize: %d %s", resp.StatusCode, body)
	}
	if resp, body := send(t, context.Background(), http.MethodPost, n.ts.URL, sid, user, rpcNotification("notifications/initialized", "{}")); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("initialized: %d %s", resp.StatusCode, body)
	}
	return sid
}

// TestForwardToOwner: a session whose owner is A is served through B —
// a call with progress (each event as it comes), the GET stream, whose
// end on the client's side ends it on A, and DELETE, which ends it on A.
func TestForwardToOwner(t *testing.T) {
	ring := testRing(t)
	a, b := newNode(t, ring), newNode(t, ring)
	sid := begin(t, a, "alice")
	if s, err := ring.OpenSession(sid, seal.Binding{Endpoint: "api", User: "alice"}); err != nil || s.Owner != a.ts.URL {
		t.Fatalf("the id names owner %q (%v), want %q", s.Owner, err, a.ts.URL)
	}
	ctx := context.Background()

	resp, body := send(t, ctx, http.MethodPost, b.ts.URL, sid, "alice", rpcRequest(1, "tools/call", `{"name":"progress","_meta":{"progressToken":"p1"}}`))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "notifications/progress") || !strings.Contains(body, `"tool":"progress"`) {
		t.Fatalf("a call through B: %d %s", resp.StatusCode, body)
	}
	if b.store.Len() != 0 {
		t.Errorf("B holds %d sessions; the session lives on A only", b.store.Len())
	}

	gctx, cancel := context.WithCancel(ctx)
	stream, _ := send(t, gctx, http.MethodGet, b.ts.URL, sid, "alice", "")
	if stream.StatusCode != http.StatusOK || stream.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("the GET stream through B: %d %s", stream.StatusCode, stream.Header)
	}
	conn := a.up.conn(t, 0)
	conn.waitListening(t, 1)
	conn.emitRaw(t, rpcNotification("notifications/tools/list_changed", "{}"))
	if line := readEventData(t, stream.Body); !strings.Contains(line, "list_changed") {
		t.Fatalf("the stream carried %q", line)
	}
	cancel() // the client leaves: the hop, and A's stream, end
	stream.Body.Close()
	conn.waitListening(t, 0)

	if resp, body := send(t, ctx, http.MethodDelete, b.ts.URL, sid, "alice", ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE through B: %d %s", resp.StatusCode, body)
	}
	if a.store.get(sid) != nil {
		t.Error("A still holds the session after its DELETE")
	}
	if resp, _ := send(t, ctx, http.MethodPost, a.ts.URL, sid, "alice", toolCall(2, "echo")); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the deleted session answered %d on A", resp.StatusCode)
	}
}

// readEventData returns the data of the next event on an SSE stream.
func readEventData(t *testing.T, r io.Reader) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				got <- d
				return
			}
		}
		got <- ""
	}()
	return within(t, got, "an event")
}

// TestOwnerGone: when the owner is gone, a request through another
// instance is 404 "Session not found", naming no address, so that the
// client starts over.
func TestOwnerGone(t *testing.T) {
	ring := testRing(t)
	a, b := newNode(t, ring), newNode(t, ring)
	sid := begin(t, a, "alice")
	a.stop()
	for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
		body := ""
		if method == http.MethodPost {
			body = toolCall(1, "echo")
		}
		resp, got := send(t, context.Background(), method, b.ts.URL, sid, "alice", body)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(got, "Session not found") {
			t.Errorf("%s with the owner gone: %d %s", method, resp.StatusCode, got)
		}
		if strings.Contains(got, "127.0.0.1") || strings.Contains(got, a.ts.URL) {
			t.Errorf("%s: the error names the owner: %s", method, got)
		}
	}
}

// TestHopRefused: node_url is no way around the owner's judgement of the
// user: a request straight to the owner with no token, a forged, stale,
// replayed or moved token, or another user's, is 404 as an unknown
// session is; a forwarded request is never forwarded again.
func TestHopRefused(t *testing.T) {
	ring := testRing(t)
	a, b := newNode(t, ring), newNode(t, ring)
	sid := begin(t, a, "alice")
	alice := seal.Binding{Endpoint: "api", User: "alice"}
	now := time.Now()
	replayed := ring.SealHop(alice, sid, http.MethodPost, now)
	if resp, body := send(t, context.Background(), http.MethodPost, a.ts.URL, sid, "alice", toolCall(1, "echo"), HopHeader, replayed); resp.StatusCode != http.StatusOK {
		t.Fatalf("a good token was refused: %d %s", resp.StatusCode, body)
	}
	other := testRing(t)
	cases := []struct {
		name, user, token string
		to                *node
	}{
		{"no token, another user", "mallory", "", a},
		{"a forged token", "alice", strings.Repeat("A", len(replayed)), a},
		{"a token of another key", "alice", other.SealHop(alice, sid, http.MethodPost, now), a},
		{"an expired token", "alice", ring.SealHop(alice, sid, http.MethodPost, now.Add(-time.Minute)), a},
		{"a replayed token", "alice", replayed, a},
		{"alice's token, mallory's credentials", "mallory", ring.SealHop(alice, sid, http.MethodPost, now), a},
		{"alice's token, no credentials", "", ring.SealHop(alice, sid, http.MethodPost, now), a},
		{"mallory's token and credentials", "mallory", ring.SealHop(seal.Binding{Endpoint: "api", User: "mallory"}, sid, http.MethodPost, now), a},
		{"a token for another method", "alice", ring.SealHop(alice, sid, http.MethodDelete, now), a},
		{"a token for another session", "alice", ring.SealHop(alice, sid+"x", http.MethodPost, now), a},
		{"a token for another endpoint", "alice", ring.SealHop(seal.Binding{Endpoint: "admin", User: "alice"}, sid, http.MethodPost, now), a},
		{"a good token to an instance without the session", "alice", ring.SealHop(alice, sid, http.MethodPost, now), b},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.token != "" {
				hdr = []string{HopHeader, c.token}
			}
			resp, body := send(t, context.Background(), http.MethodPost, c.to.ts.URL, sid, c.user, toolCall(1, "echo"), hdr...)
			if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "Session not found") {
				t.Errorf("answered %d %s, want 404 Session not found", resp.StatusCode, body)
			}
		})
	}
	if n := strings.Count(a.up.conn(t, 0).receivedSummary(), `"tools/call"`); n != 1 {
		t.Errorf("the upstream got %d tools/call, want only the one with a good token", n)
	}
}

// FAULT INJECTION: an owner that is an httptest handler, to see what the
// hop carries and how it streams.

// fakeOwner is B's view of an owner: a session id sealed to name it.
func fakeOwner(t *testing.T, ring *seal.Ring, h http.HandlerFunc) (sid string) {
	t.Helper()
	owner := httptest.NewServer(h)
	t.Cleanup(func() { owner.CloseClientConnections(); owner.Close() })
	sid, err := ring.SealSession(seal.Binding{Endpoint: "api", User: "alice"}, seal.Session{Owner: owner.URL + "/prefix/", Issued: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return sid
}

// TestForwarderStreams: the hop streams both ways — the request body
// reaches the owner before the client has sent all of it, each event
// reaches the client before the owner writes the next — keeps the
// request's end-to-end headers, its path and query under node_url's
// path, and the client's Host; and the client's leaving ends it (the
// GET stream's case is in TestForwardToOwner).
func TestForwarderStreams(t *testing.T) {
	ring := testRing(t)
	b := newNode(t, ring)
	firstPart, nextEvent, ownerDone := make(chan string, 1), make(chan struct{}), make(chan struct{})
	seen := make(chan http.Header, 1)
	sid := fakeOwner(t, ring, func(w http.ResponseWriter, r *http.Request) {
		defer close(ownerDone)
		_ = http.NewResponseController(w).EnableFullDuplex()
		h := r.Header.Clone()
		h.Set("X-Seen-Path", r.URL.RequestURI())
		h.Set("X-Seen-Host", r.Host)
		seen <- h
		buf := make([]byte, 5)
		n, _ := io.ReadFull(r.Body, buf)
		firstPart <- string(buf[:n])
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range []string{"one", "two"} {
			_, _ = io.WriteString(w, "data: "+ev+"\n\n")
			http.NewResponseController(w).Flush()
			select {
			case <-nextEvent:
			case <-r.Context().Done():
				return
			}
		}
		// Until the hop ends; a handler learns that its connection
		// closed only by reading (net/http watches it after the body).
		_, _ = io.Copy(io.Discard, r.Body)
	})
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.ts.URL+"/mcp?x=1", pr)
	for k, v := range map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
		"Mcp-Session-Id": sid, "Mcp-Protocol-Version": Version20250618, "X-Test-User": "alice", "Authorization": "Bearer t",
		"Last-Event-ID": "7/3", "Connection": "X-Drop", "X-Drop": "1", "Idempotency-Key": "k1"} {
		r.Header.Set(k, v)
	}
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() { resp, err := http.DefaultClient.Do(r); done <- result{resp, err} }()
	_, _ = io.WriteString(pw, `{"jso`)
	if got := within(t, firstPart, "the first part of the body at the owner"); got != `{"jso` {
		t.Fatalf("the owner read %q first", got)
	}
	h := within(t, seen, "the owner's request")
	for k, want := range map[string]string{"Mcp-Session-Id": sid, "Mcp-Protocol-Version": Version20250618, "Authorization": "Bearer t",
		"Last-Event-Id": "7/3", "X-Seen-Path": "/prefix/mcp?x=1", "X-Seen-Host": strings.TrimPrefix(b.ts.URL, "http://"), "X-Drop": "",
		"Idempotency-Key": "k1"} {
		if got := h.Get(k); got != want {
			t.Errorf("the owner got %s %q, want %q", k, got, want)
		}
	}
	if h.Get(HopHeader) == "" {
		t.Error("the hop carries no token")
	}
	res := within(t, done, "the answer's headers")
	if res.err != nil {
		t.Fatal(res.err)
	}
	defer res.resp.Body.Close()
	if got := readEventData(t, res.resp.Body); got != "one" {
		t.Fatalf("first event %q", got)
	}
	close(nextEvent)
	if got := readEventData(t, res.resp.Body); got != "two" {
		t.Fatalf("second event %q", got)
	}
	cancel()
	pw.Close()
	within(t, ownerDone, "the owner's handler to end when the client left")
}

// TestHopBusy: an owner that remembers as many hop nonces as it may
// answers a forwarded request 503 with Retry-After rather than forget one
// that is still fresh.
func TestHopBusy(t *testing.T) {
	ring := testRing(t)
	a := newNode(t, ring)
	sid := begin(t, a, "alice")
	a.c.Hops.guard = seal.NewGuard(HopWindow, 0)
	tok := ring.SealHop(seal.Binding{Endpoint: "api", User: "alice"}, sid, http.MethodPost, time.Now())
	resp, body := send(t, context.Background(), http.MethodPost, a.ts.URL, sid, "alice", toolCall(1, "echo"), HopHeader, tok)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a full guard answered %d %s", resp.StatusCode, body)
	}
}

// TestHopSentAgainOnClosedConnection: a hop the owner closes the
// connection under without answering is sent again on a new connection,
// with the same body, instead of telling the client that its session is
// gone: a reload of the owner closes its old server's idle keep-alive
// connections as a request is written, and drops a request its old server
// read once the shutdown had begun, on a new connection too.
func TestHopSentAgainOnClosedConnection(t *testing.T) {
	for _, tc := range []struct {
		name string
		drop func(conn, req int) bool // the owner closes conn under its req-th request
	}{
		{"kept-alive connection", func(conn, req int) bool { return conn == 1 && req == 1 }},
		{"new connection", func(conn, req int) bool { return conn == 2 && req == 0 }},
		{"two new connections", func(conn, req int) bool { return (conn == 2 || conn == 3) && req == 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ring := testRing(t)
			b := newNode(t, ring)
			owner, bodies := droppingOwner(t, b, tc.drop)
			sid, err := ring.SealSession(seal.Binding{Endpoint: "api", User: "alice"}, seal.Session{Owner: owner, Issued: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				if i == 1 && tc.name != "kept-alive connection" {
					b.c.Hops.CloseIdleConnections() // the second call dials
				}
				if resp, body := send(t, context.Background(), http.MethodPost, b.ts.URL, sid, "alice", toolCall(i, "echo")); resp.StatusCode != http.StatusOK || body != "{}" {
					t.Fatalf("call %d through B: %d %s", i, resp.StatusCode, body)
				}
			}
			got := bodies()
			if got[len(got)-1] != toolCall(1, "echo") || got[len(got)-2] != got[len(got)-1] {
				t.Errorf("the owner read %q, want the second call sent again", got)
			}
		})
	}
}

// droppingOwner runs an owner that answers every request {} but closes the
// connection, unanswered, under those drop names (its connections and
// their requests counted from 1 and 0); it returns its URL and what it has
// read so far.
func droppingOwner(t *testing.T, b *node, drop func(conn, req int) bool) (string, func() []string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		accepted int
		bodies   []string
	)
	t.Cleanup(func() { ln.Close(); b.c.Hops.CloseIdleConnections(); wg.Wait() })
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted++
			n := accepted
			mu.Unlock()
			wg.Go(func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for i := 0; ; i++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					body, _ := io.ReadAll(req.Body)
					mu.Lock()
					bodies = append(bodies, string(body))
					mu.Unlock()
					if drop(n, i) {
						return // closed under the request, without a word
					}
					_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
				}
			})
		}
	})
	return "http://" + ln.Addr().String() + "/", func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(bodies)
	}
}
