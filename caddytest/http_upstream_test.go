package caddytest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// This file tests mcp_proxy in front of an `http` upstream end to end:
// a raw client → Caddy (siteAddr) → mcp_proxy → a Streamable HTTP server
// behind httptest. The upstream is the go-sdk's server wherever a real peer
// can show the behaviour; where the behaviour is a fault (streams cut,
// responses moved to a GET, sessions forgotten) it is fakeUpstream, a small
// hand-written server that exists only to inject those faults.

// upstreamRequest is one request an upstream server received.
type upstreamRequest struct {
	Method string
	Host   string
	Header http.Header
	Body   string
}

// requestLog records every request an upstream server receives, and the
// Mcp-Session-Id values it hands out.
type requestLog struct {
	mu     sync.Mutex
	reqs   []upstreamRequest
	issued []string
}

// wrap records each request (when it arrives, so a held GET stream is
// visible at once) before next serves it, and the session id next sets.
func (l *requestLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		l.mu.Lock()
		l.reqs = append(l.reqs, upstreamRequest{Method: r.Method, Host: r.Host, Header: r.Header.Clone(), Body: string(body)})
		l.mu.Unlock()
		next.ServeHTTP(w, r)
		if id := w.Header().Get("Mcp-Session-Id"); id != "" {
			l.mu.Lock()
			if !slices.Contains(l.issued, id) {
				l.issued = append(l.issued, id)
			}
			l.mu.Unlock()
		}
	})
}

// requests returns the recorded requests with the method ("" for all).
func (l *requestLog) requests(method string) []upstreamRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []upstreamRequest
	for _, r := range l.reqs {
		if method == "" || r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

// reset forgets everything recorded so far.
func (l *requestLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs, l.issued = nil, nil
}

// sessionID returns the one session id the upstream issued. The wrapper
// records it when the initialize handler returns, which may be just after
// the proxy answered the client.
func (l *requestLog) sessionID(t testing.TB) string {
	t.Helper()
	var ids []string
	waitUntil(t, 5*time.Second, "the upstream issued a session id", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		ids = slices.Clone(l.issued)
		return len(ids) > 0
	})
	if len(ids) != 1 {
		t.Fatalf("the upstream issued session ids %q, want one", ids)
	}
	return ids[0]
}

// wireClient is a raw MCP client that keeps everything the proxy sent it
// (status lines, headers, and bodies as they are read, streams included),
// so that a test can search the whole wire for what must not be there.
type wireClient struct {
	t      *testing.T
	c      *http.Client
	url    string
	header http.Header // sent with every request
	wire   syncBuffer
}

func newWireClient(t *testing.T, url string) *wireClient {
	wc := &wireClient{t: t, c: testClient(0), url: url, header: make(http.Header)}
	t.Cleanup(wc.c.CloseIdleConnections)
	return wc
}

// do sends req with the client's headers and extra, and records the
// response headers; the body is recorded as it is read.
func (wc *wireClient) do(req *http.Request, extra http.Header) *http.Response {
	wc.t.Helper()
	for k, v := range wc.header {
		req.Header[k] = v
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	resp, err := wc.c.Do(req)
	if err != nil {
		wc.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	var head strings.Builder
	fmt.Fprintf(&head, "\n%s %s → %s\n", req.Method, req.URL, resp.Status)
	_ = resp.Header.Write(&head)
	_, _ = wc.wire.Write([]byte(head.String() + "\n"))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.TeeReader(resp.Body, &wc.wire), resp.Body}
	return resp
}

// post sends one JSON-RPC message and reads the whole answer.
func (wc *wireClient) post(session, version, body string, extra http.Header) (*http.Response, string) {
	wc.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wc.url, strings.NewReader(body))
	if err != nil {
		wc.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	if version != "" {
		req.Header.Set("Mcp-Protocol-Version", version)
	}
	resp := wc.do(req, extra)
	return resp, readAll(wc.t, resp)
}

// delete ends the session and returns the status.
func (wc *wireClient) delete(session string) int {
	wc.t.Helper()
	req, err := http.NewRequest(http.MethodDelete, wc.url, nil)
	if err != nil {
		wc.t.Fatal(err)
	}
	req.Header.Set("Mcp-Session-Id", session)
	resp := wc.do(req, nil)
	readAll(wc.t, resp)
	return resp.StatusCode
}

// openGet opens the session's standalone GET stream and reads its events
// in the background until close.
func (wc *wireClient) openGet(session, version string, extra http.Header) *eventStream {
	wc.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, wc.url, nil)
	if err != nil {
		cancel()
		wc.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", session)
	req.Header.Set("Mcp-Protocol-Version", version)
	resp := wc.do(req, extra)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		body := readAll(wc.t, resp)
		cancel()
		wc.t.Fatalf("GET stream: %s %q %s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	s := &eventStream{events: make(chan sseEvent, 256), done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(s.done)
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		for {
			ev, err := readSSEEvent(br)
			if err != nil {
				s.err = err
				return
			}
			select {
			case s.events <- ev:
			case <-ctx.Done():
				s.err = ctx.Err()
				return
			}
		}
	}()
	wc.t.Cleanup(s.close)
	return s
}

// text returns everything the client received so far.
func (wc *wireClient) text() string { return wc.wire.String() }

// eventStream is a client's SSE response read in the background: one HTTP
// response from its headers to close.
type eventStream struct {
	events chan sseEvent
	done   chan struct{} // closed when the body ended or close was called
	err    error         // why it ended; read after done
	cancel context.CancelFunc
}

// next returns the next event, or fails the test when none comes within
// timeout or the response ended.
func (s *eventStream) next(t testing.TB, timeout time.Duration) sseEvent {
	t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case <-s.done:
		select {
		case ev := <-s.events:
			return ev
		default:
		}
		t.Fatalf("the client's SSE response ended: %v", s.err)
	case <-time.After(timeout):
		t.Fatalf("no event on the client's SSE response within %s", timeout)
	}
	panic("unreachable")
}

// ended reports whether the response ended.
func (s *eventStream) ended() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// close ends the request and waits for the reader.
func (s *eventStream) close() {
	s.cancel()
	<-s.done
}

// sseEvent is one event of an SSE body.
type sseEvent struct {
	ID, Event, Data, Retry string
	HasID, HasData         bool
}

// readSSEEvent reads the next event that has at least one field; comments
// (keep-alives) are skipped.
func readSSEEvent(br *bufio.Reader) (sseEvent, error) {
	var ev sseEvent
	fields := false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if fields {
				return ev, nil
			}
			continue
		case strings.HasPrefix(line, ":"):
			continue
		}
		fields = true
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "id":
			ev.ID, ev.HasID = value, true
		case "event":
			ev.Event = value
		case "data":
			if ev.HasData {
				ev.Data += "\n"
			}
			ev.Data += value
			ev.HasData = true
		case "retry":
			ev.Retry = value
		}
	}
}

// parseSSE splits a complete SSE body into its events.
func parseSSE(body string) []sseEvent {
	br := bufio.NewReader(strings.NewReader(body))
	var evs []sseEvent
	for {
		ev, err := readSSEEvent(br)
		if err != nil {
			return evs
		}
		evs = append(evs, ev)
	}
}

// rpcMessage is a JSON-RPC message as a test looks at it.
type rpcMessage struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *rpcError       `json:"error,omitempty"`
}

type rpcError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (m rpcMessage) isRequest() bool { return m.ID != nil && m.Method != "" }

// answerMessages returns the JSON-RPC messages of a POST's answer: the
// JSON body, or the data of each SSE event that carries one.
func answerMessages(t testing.TB, resp *http.Response, body string) []rpcMessage {
	t.Helper()
	var datas []string
	switch ct := resp.Header.Get("Content-Type"); {
	case strings.HasPrefix(ct, "application/json"):
		datas = []string{body}
	case strings.HasPrefix(ct, "text/event-stream"):
		for _, ev := range parseSSE(body) {
			if ev.Data != "" {
				datas = append(datas, ev.Data)
			}
		}
	default:
		t.Fatalf("answer with Content-Type %q (status %s): %s", ct, resp.Status, body)
	}
	msgs := make([]rpcMessage, 0, len(datas))
	for _, d := range datas {
		var m rpcMessage
		if err := json.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("not a JSON-RPC message: %v: %s", err, d)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// openSessionAt initializes a session at version through the wire client
// (extra goes with the initialize request) and returns the proxy's session id.
func (wc *wireClient) openSessionAt(version string, extra http.Header) string {
	wc.t.Helper()
	resp, body := wc.post("", "", initializeBodyAt(version), extra)
	id := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != http.StatusOK || id == "" {
		wc.t.Fatalf("initialize: %s, session %q: %s", resp.Status, id, body)
	}
	if m := responseTo(wc.t, resp, body, "1"); m.Error != nil || !strings.Contains(string(m.Result), `"protocolVersion":"`+version+`"`) {
		wc.t.Fatalf("initialize answered %s", body)
	}
	if resp, body := wc.post(id, version, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, nil); resp.StatusCode != http.StatusAccepted {
		wc.t.Fatalf("notifications/initialized: %s %s", resp.Status, body)
	}
	return id
}

func withHeader(kv ...string) http.Header {
	h := make(http.Header)
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func sessionCount(s *mcp.Server) int {
	n := 0
	for range s.Sessions() {
		n++
	}
	return n
}

// TestHTTPUpstreamCredentials checks what reaches a go-sdk server behind
// mcp_proxy: the configured header_up values (placeholders evaluated from
// the client's initialize, on every request of the session, background GET
// and DELETE included), the client's Authorization only with
// pass_authorization, the upstream's own Host, and that the upstream's
// session id never reaches the client.
func TestHTTPUpstreamCredentials(t *testing.T) {
	requireIntegration(t)
	srv := newEchoServer("caddytest-credentials")
	var upLog requestLog
	up := httptest.NewServer(upLog.wrap(goSDKHandler(srv)))
	t.Cleanup(up.Close)
	upstreamHost := up.Listener.Addr().String()

	for i, passAuth := range []bool{false, true} {
		name := "header_up only"
		if passAuth {
			name = "pass_authorization"
		}
		t.Run(name, func(t *testing.T) {
			upLog.reset()
			opts := []string{
				"header_up X-Upstream-Key secret",
				"header_up X-Client {http.request.header.X-Client-Name}",
			}
			if passAuth {
				opts = append(opts, "pass_authorization")
			}
			url := startProxy(t, httpProxySite(up.URL+"/mcp", opts...), goroutinesChecked) + "/mcp"
			wc := newWireClient(t, url)
			wc.header.Set("Authorization", "Bearer client-token")

			// The placeholder is evaluated from the initialize request:
			// later requests name another client, which must not matter.
			const version = "2025-11-25"
			sid := wc.openSessionAt(version, withHeader("X-Client-Name", "alice"))
			resp, body := wc.post(sid, version, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello through the proxy"}}}`,
				withHeader("X-Client-Name", "bob"))
			if m := responseTo(t, resp, body, "2"); resp.StatusCode != http.StatusOK || m.Error != nil || !strings.Contains(string(m.Result), "hello through the proxy") {
				t.Fatalf("tools/call: %s %s", resp.Status, body)
			}

			// A GET stream: the proxy holds the upstream's GET in the
			// background, with the headers of the initialize.
			get := wc.openGet(sid, version, withHeader("X-Client-Name", "mallory"))
			waitUntil(t, 5*time.Second, "the upstream GET stream opened", func() bool { return len(upLog.requests(http.MethodGet)) > 0 })
			toolName := fmt.Sprintf("late_tool_%d", i)
			mcp.AddTool(srv, &mcp.Tool{Name: toolName}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
				return &mcp.CallToolResult{}, nil, nil
			})
			for {
				ev := get.next(t, 10*time.Second)
				if strings.Contains(ev.Data, "notifications/tools/list_changed") {
					break
				}
			}
			get.close()
			resp, body = wc.post(sid, version, `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`, nil)
			if m := responseTo(t, resp, body, "3"); m.Error != nil || !strings.Contains(string(m.Result), toolName) {
				t.Fatalf("tools/list: %s %s", resp.Status, body)
			}
			if status := wc.delete(sid); status != http.StatusNoContent {
				t.Fatalf("DELETE: %d", status)
			}
			upstreamSID := upLog.sessionID(t)
			waitUntil(t, 5*time.Second, "the upstream received the DELETE", func() bool { return len(upLog.requests(http.MethodDelete)) == 1 })

			reqs := upLog.requests("")
			var methods []string
			for _, r := range reqs {
				methods = append(methods, r.Method)
			}
			t.Logf("the upstream received: %v", methods)
			if len(reqs) < 6 {
				t.Fatalf("the upstream received %d requests, want initialize, initialized, tools/call, GET, tools/list, DELETE", len(reqs))
			}
			for k, r := range reqs {
				what := fmt.Sprintf("upstream request %d (%s %.60s)", k, r.Method, r.Body)
				if r.Host != upstreamHost {
					t.Errorf("%s: Host %q, want the upstream's %q", what, r.Host, upstreamHost)
				}
				if got := r.Header.Values("X-Upstream-Key"); !slices.Equal(got, []string{"secret"}) {
					t.Errorf("%s: X-Upstream-Key %q, want [secret]", what, got)
				}
				if got := r.Header.Values("X-Client"); !slices.Equal(got, []string{"alice"}) {
					t.Errorf("%s: X-Client %q, want [alice] (from the initialize request)", what, got)
				}
				if got := r.Header.Values("X-Client-Name"); got != nil {
					t.Errorf("%s: the client's own header X-Client-Name %q reached the upstream", what, got)
				}
				auth := r.Header.Values("Authorization")
				switch {
				case passAuth && !slices.Equal(auth, []string{"Bearer client-token"}):
					t.Errorf("%s: Authorization %q, want exactly the client's [Bearer client-token]", what, auth)
				case !passAuth && auth != nil:
					t.Errorf("%s: Authorization %q reached the upstream without pass_authorization", what, auth)
				}
				if k > 0 {
					if got := r.Header.Get("Mcp-Session-Id"); got != upstreamSID {
						t.Errorf("%s: Mcp-Session-Id %q, want the upstream's own %q", what, got, upstreamSID)
					}
				}
			}
			if sid == upstreamSID {
				t.Fatalf("the proxy handed out the upstream's session id %q", sid)
			}
			wire := wc.text()
			for _, seen := range []string{"hello through the proxy", "notifications/tools/list_changed", toolName, sid} {
				if !strings.Contains(wire, seen) {
					t.Fatalf("the client's wire record lacks %q: it does not hold everything the client got:\n%s", seen, wire)
				}
			}
			if strings.Contains(wire, upstreamSID) {
				t.Fatalf("the upstream's session id %q reached the client:\n%s", upstreamSID, wire)
			}
			waitUntil(t, 5*time.Second, "the go-sdk server ended the session", func() bool { return sessionCount(srv) == 0 })
		})
	}
}

// fakeUpstream is a hand-written Streamable HTTP server for FAULT
// INJECTION, not a reference: it speaks just enough of the transport for
// the proxy to hold a session (initialize answered with JSON and an
// Mcp-Session-Id, 202 for notifications and responses, an empty JSON result
// for other requests, DELETE), and a test plugs in the misbehaviour under
// test through get and call.
type fakeUpstream struct {
	srv       *httptest.Server
	log       requestLog
	sessionID string
	// forgotten makes it answer 404 to the session, as a server that lost
	// it (restart, its own timeout).
	forgotten atomic.Bool
	// get serves a GET of the session; nil answers 405 (no GET stream).
	get func(w http.ResponseWriter, r *http.Request)
	// call answers a request other than initialize; nil answers {}.
	call func(w http.ResponseWriter, r *http.Request, m rpcMessage)
}

// startFakeUpstream starts f (its get and call set) until the test ends.
func startFakeUpstream(t *testing.T, f *fakeUpstream) *fakeUpstream {
	t.Helper()
	var b [12]byte
	_, _ = rand.Read(b[:])
	f.sessionID = "fake-upstream-session-" + hex.EncodeToString(b[:])
	f.srv = httptest.NewServer(f.log.wrap(http.HandlerFunc(f.serve)))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeUpstream) url() string { return f.srv.URL + "/mcp" }

func (f *fakeUpstream) serve(w http.ResponseWriter, r *http.Request) {
	var m rpcMessage
	if r.Method == http.MethodPost {
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(w, "fake upstream: "+err.Error(), http.StatusBadRequest)
			return
		}
		if m.Method == "initialize" {
			var p struct {
				ProtocolVersion string `json:"protocolVersion"`
			}
			_ = json.Unmarshal(m.Params, &p)
			w.Header().Set("Mcp-Session-Id", f.sessionID)
			writeJSONResult(w, m.ID, fmt.Sprintf(`{"protocolVersion":%q,"capabilities":{"logging":{}},"serverInfo":{"name":"fault-injection","version":"1"}}`, p.ProtocolVersion))
			return
		}
	}
	switch sid := r.Header.Get("Mcp-Session-Id"); {
	case sid == "":
		http.Error(w, "fake upstream: Mcp-Session-Id missing", http.StatusBadRequest)
		return
	case sid != f.sessionID || f.forgotten.Load():
		http.Error(w, "fake upstream: session not found", http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodPost:
		switch {
		case !m.isRequest():
			w.WriteHeader(http.StatusAccepted)
		case f.call != nil:
			f.call(w, r, m)
		default:
			writeJSONResult(w, m.ID, `{}`)
		}
	case http.MethodGet:
		if f.get == nil {
			http.Error(w, "fake upstream: no GET stream", http.StatusMethodNotAllowed)
			return
		}
		f.get(w, r)
	case http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "fake upstream: method not allowed", http.StatusMethodNotAllowed)
	}
}

func writeJSONResult(w http.ResponseWriter, id json.RawMessage, result string) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":%s}`, id, result)
}

// startSSEResponse writes the headers of an event stream and flushes them.
func startSSEResponse(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
}

// cutConnection ends a streaming response abruptly: the TCP connection
// closes mid-body, without the chunked encoding's end. It reports false
// when the connection cannot be taken over (the response then ends cleanly
// when the handler returns).
func cutConnection(w http.ResponseWriter) bool {
	w.(http.Flusher).Flush()
	hj, ok := w.(http.Hijacker)
	if !ok {
		return false
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// TestHTTPUpstreamGETStreamCut: the upstream cuts its GET stream every 3
// events (alternately mid-body and with a clean end) and replays the last
// event it sent on every resume. The client's GET stream through the proxy
// stays one HTTP response and receives notifications 1..12 once each, in
// order; the upstream sees the resumes with the right Last-Event-ID.
func TestHTTPUpstreamGETStreamCut(t *testing.T) {
	requireIntegration(t)
	const total, every = 12, 3
	notification := func(n int) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","logger":"fault-injection","data":%d}}`, n)
	}
	var cuts, abrupt atomic.Int32
	f := startFakeUpstream(t, &fakeUpstream{get: func(w http.ResponseWriter, r *http.Request) {
		next := 1
		last := r.Header.Get("Last-Event-ID")
		if last != "" {
			n, err := strconv.Atoi(last)
			if err != nil || n < 1 || n > total {
				http.Error(w, "fake upstream: unknown Last-Event-ID "+strconv.Quote(last), http.StatusBadRequest)
				return
			}
			next = n + 1
		}
		startSSEResponse(w)
		if last != "" {
			// Replay one event the proxy already has: it must drop it.
			_, _ = fmt.Fprintf(w, "id: %s\ndata: %s\n\n", last, notification(next-1))
		}
		for n := next; n <= total; n++ {
			_, _ = fmt.Fprintf(w, "id: %d\nretry: 20\ndata: %s\n\n", n, notification(n))
			w.(http.Flusher).Flush()
			if n%every == 0 {
				if cuts.Add(1)%2 == 1 && cutConnection(w) {
					abrupt.Add(1)
				}
				return
			}
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done() // all sent: hold the stream
	}})
	url := startProxy(t, httpProxySite(f.url()), goroutinesChecked) + "/mcp"
	wc := newWireClient(t, url)
	sid := wc.openSessionAt("2025-06-18", nil)
	get := wc.openGet(sid, "2025-06-18", nil)

	var got []int
	for len(got) < total {
		ev := get.next(t, 15*time.Second)
		var m rpcMessage
		if err := json.Unmarshal([]byte(ev.Data), &m); err != nil || m.Method != "notifications/message" {
			t.Fatalf("unexpected event on the GET stream: %+v", ev)
		}
		var p struct {
			Data int `json:"data"`
		}
		if err := json.Unmarshal(m.Params, &p); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ev.ID, "0_") {
			t.Errorf("event id %q is not the proxy's own GET-stream id", ev.ID)
		}
		got = append(got, p.Data)
	}
	waitUntil(t, 10*time.Second, "the upstream saw the resume after the last cut", func() bool {
		return len(f.log.requests(http.MethodGet)) >= total/every+1
	})
	// A duplicate of event 12 would arrive now, if at all. A sleep: what is
	// checked is that nothing more comes, so there is no condition to await.
	time.Sleep(300 * time.Millisecond)
	for drained := false; !drained; {
		select {
		case ev := <-get.events:
			got = append(got, -1)
			t.Errorf("an extra event after the last notification: %+v", ev)
		default:
			drained = true
		}
	}
	want := make([]int, total)
	for i := range want {
		want[i] = i + 1
	}
	if !slices.Equal(got, want) {
		t.Errorf("the client received notifications %v, want %v", got, want)
	}
	if get.ended() {
		t.Errorf("the client's GET stream ended (%v); it must outlive the upstream's cuts", get.err)
	}

	var lastIDs []string
	for _, r := range f.log.requests(http.MethodGet) {
		lastIDs = append(lastIDs, r.Header.Get("Last-Event-ID"))
		if r.Header.Get("Mcp-Session-Id") != f.sessionID {
			t.Errorf("an upstream GET carried Mcp-Session-Id %q", r.Header.Get("Mcp-Session-Id"))
		}
	}
	if want := []string{"", "3", "6", "9", "12"}; !slices.Equal(lastIDs, want) {
		t.Errorf("the upstream's GETs carried Last-Event-ID %q, want %q", lastIDs, want)
	}
	if cuts.Load() != total/every || abrupt.Load() != total/every/2 {
		t.Errorf("the fault injection cut %d streams (%d mid-body), want %d (%d)", cuts.Load(), abrupt.Load(), total/every, total/every/2)
	}
	get.close()
	if status := wc.delete(sid); status != http.StatusNoContent {
		t.Errorf("DELETE: %d", status)
	}
}

// TestHTTPUpstreamPOSTStreamClosedEarly: a 2025-11-25 upstream answers a
// tools/call with a priming event (id, empty data, retry 50ms) and closes
// the stream; the response is served on a GET with that Last-Event-ID. The
// client, through the proxy, gets the response on its POST stream.
func TestHTTPUpstreamPOSTStreamClosedEarly(t *testing.T) {
	requireIntegration(t)
	const primeID = "poll-prime-1"
	var (
		mu      sync.Mutex
		pending json.RawMessage // the id of the tools/call whose stream closed
	)
	f := startFakeUpstream(t, &fakeUpstream{
		call: func(w http.ResponseWriter, _ *http.Request, m rpcMessage) {
			if m.Method != "tools/call" {
				writeJSONResult(w, m.ID, `{}`)
				return
			}
			mu.Lock()
			pending = m.ID
			mu.Unlock()
			startSSEResponse(w)
			_, _ = fmt.Fprintf(w, "id: %s\nretry: 50\ndata: \n\n", primeID)
		},
		get: func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			id := pending
			mu.Unlock()
			if r.Header.Get("Last-Event-ID") != primeID || id == nil {
				http.Error(w, "fake upstream: no standalone GET stream", http.StatusMethodNotAllowed)
				return
			}
			startSSEResponse(w)
			_, _ = fmt.Fprintf(w, "id: poll-prime-2\ndata: {\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"answered on the resumed stream\"}]}}\n\n", id)
		},
	})
	url := startProxy(t, httpProxySite(f.url()), goroutinesChecked) + "/mcp"
	wc := newWireClient(t, url)
	const version = "2025-11-25"
	sid := wc.openSessionAt(version, nil)

	start := time.Now()
	resp, body := wc.post(sid, version, `{"jsonrpc":"2.0","id":"call-7","method":"tools/call","params":{"name":"slow","arguments":{}}}`, nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("tools/call: %s %q %s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	m := responseTo(t, resp, body, `"call-7"`)
	if m.Error != nil || !strings.Contains(string(m.Result), "answered on the resumed stream") {
		t.Fatalf("tools/call answered %s", body)
	}
	if msgs := answerMessages(t, resp, body); len(msgs) != 1 {
		t.Errorf("the POST stream carried %d messages, want the response only:\n%s", len(msgs), body)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("the response took %s", elapsed)
	}
	gets := f.log.requests(http.MethodGet)
	if len(gets) != 1 {
		t.Fatalf("the upstream received %d GETs, want 1 resuming the POST stream", len(gets))
	}
	for k, want := range map[string]string{"Last-Event-ID": primeID, "Mcp-Session-Id": f.sessionID, "Mcp-Protocol-Version": version} {
		if got := gets[0].Header.Get(k); got != want {
			t.Errorf("the resuming GET carried %s %q, want %q", k, got, want)
		}
	}
	if status := wc.delete(sid); status != http.StatusNoContent {
		t.Errorf("DELETE: %d", status)
	}
}

// TestHTTPUpstreamFailures: an initialize through the proxy to an upstream
// that cannot serve it is answered quickly, with the gateway status and a
// JSON-RPC error that names the upstream and what went wrong; TLS
// upstreams work with tls_insecure_skip_verify or tls_trusted_ca_certs.
func TestHTTPUpstreamFailures(t *testing.T) {
	requireIntegration(t)
	quiet := log.New(io.Discard, "", 0) // TLS handshake errors are the point here

	badGateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "the upstream's own backend is down for maintenance", http.StatusBadGateway)
	}))
	t.Cleanup(badGateway.Close)

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select { // no headers, ever
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) }) // before slow.Close, which waits for its handlers

	tlsSrv := newEchoServer("caddytest-tls")
	var tlsProtos sync.Map // the HTTP versions the TLS upstream served
	tlsHandler := goSDKHandler(tlsSrv)
	tlsUp := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tlsProtos.Store(r.Proto, true)
		tlsHandler.ServeHTTP(w, r)
	}))
	tlsUp.EnableHTTP2 = true
	tlsUp.Config.ErrorLog = quiet
	tlsUp.StartTLS()
	t.Cleanup(tlsUp.Close)
	caFile := filepath.Join(t.TempDir(), "upstream-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsUp.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	c := testClient(30 * time.Second)
	t.Cleanup(c.CloseIdleConnections)

	for _, tc := range []struct {
		name    string
		url     string
		options []string
		status  int
		want    string // in the JSON-RPC error message
	}{
		{"dead upstream", "http://" + freeLoopbackAddr(t) + "/mcp", nil, http.StatusBadGateway, "connection refused"},
		{"502 upstream", badGateway.URL + "/mcp", nil, http.StatusBadGateway, "502"},
		{"slow upstream", slow.URL + "/mcp", []string{"response_header_timeout 200ms"}, http.StatusGatewayTimeout, "no response headers"},
		{"untrusted TLS certificate", tlsUp.URL + "/mcp", nil, http.StatusBadGateway, "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := startProxy(t, httpProxySite(tc.url, tc.options...), goroutinesChecked) + "/mcp"
			start := time.Now()
			resp, body := mcpPost(t, c, url, "", initializeBody)
			elapsed := time.Since(start)
			t.Logf("%s in %s: %s", resp.Status, elapsed.Round(time.Millisecond), body)
			if elapsed > 5*time.Second {
				t.Errorf("the answer took %s", elapsed)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("HTTP status %s, want %d", resp.Status, tc.status)
			}
			m := responseTo(t, resp, body, "1")
			if m.Error == nil {
				t.Fatalf("initialize succeeded: %s", body)
			}
			// The client reads the cause, never the upstream's URL or
			// address; the data's correlation_id names the log line.
			host := strings.TrimPrefix(strings.TrimSuffix(tc.url, "/mcp"), "http://")
			host = strings.TrimPrefix(host, "https://")
			if !strings.Contains(m.Error.Message, tc.want) || strings.Contains(string(body), host) {
				t.Errorf("error %s should say %q and not name the upstream %s", body, tc.want, host)
			}
			var data struct {
				CorrelationID string `json:"correlation_id"`
				Status        int    `json:"status"`
			}
			if err := json.Unmarshal(m.Error.Data, &data); err != nil || len(data.CorrelationID) != 24 || data.Status != tc.status {
				t.Errorf("error data %s, want a correlation_id and status %d", m.Error.Data, tc.status)
			}
			// A failed initialize leaves no session behind.
			if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" {
				if resp, body := mcpPost(t, c, url, sid, `{"jsonrpc":"2.0","id":2,"method":"ping"}`); resp.StatusCode != http.StatusNotFound {
					t.Errorf("the session of a failed initialize answered %s %s, want 404", resp.Status, body)
				}
			}
		})
	}

	for _, tc := range []struct {
		name   string
		option string
	}{
		{"tls_insecure_skip_verify", "tls_insecure_skip_verify"},
		{"tls_trusted_ca_certs", "tls_trusted_ca_certs " + caddyfileQuote(caFile)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := startProxy(t, httpProxySite(tlsUp.URL+"/mcp", tc.option), goroutinesChecked) + "/mcp"
			sid := openSession(t, c, url)
			resp, body := mcpPost(t, c, url, sid, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"over TLS"}}}`)
			if m := responseTo(t, resp, body, "2"); resp.StatusCode != http.StatusOK || m.Error != nil || !strings.Contains(string(m.Result), "over TLS") {
				t.Fatalf("tools/call over TLS: %s %s", resp.Status, body)
			}
			deleteSession(t, c, url, sid)
			waitUntil(t, 5*time.Second, "the TLS upstream ended the session", func() bool { return sessionCount(tlsSrv) == 0 })
			var protos []string
			tlsProtos.Range(func(k, _ any) bool { protos = append(protos, k.(string)); return true })
			t.Logf("the TLS upstream served %v", protos)
		})
	}
}

// TestHTTPUpstreamSessionEnds: an upstream that forgets the session (404)
// ends the client's session, so the client's next request gets 404 and it
// initializes again; a client's DELETE reaches the upstream as a DELETE of
// the upstream's own session.
func TestHTTPUpstreamSessionEnds(t *testing.T) {
	requireIntegration(t)
	c := testClient(30 * time.Second)
	t.Cleanup(c.CloseIdleConnections)

	t.Run("upstream forgets the session", func(t *testing.T) {
		f := startFakeUpstream(t, &fakeUpstream{})
		url := startProxy(t, httpProxySite(f.url()), goroutinesChecked) + "/mcp"
		sid := openSession(t, c, url)
		if resp, body := mcpPost(t, c, url, sid, `{"jsonrpc":"2.0","id":2,"method":"ping"}`); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"result"`) {
			t.Fatalf("ping: %s %s", resp.Status, body)
		}

		f.forgotten.Store(true)
		// The request that meets the upstream's 404 ends the session: it
		// is answered with a 404 or an error that says the session ended
		// (without the upstream's detail, which is in the log).
		resp, body := mcpPost(t, c, url, sid, `{"jsonrpc":"2.0","id":3,"method":"ping"}`)
		t.Logf("the request that met the upstream's 404: %s %s", resp.Status, body)
		if resp.StatusCode != http.StatusNotFound {
			if m := responseTo(t, resp, body, "3"); m.Error == nil || !strings.Contains(m.Error.Message, "initialize a new session") {
				t.Errorf("the request that met the upstream's 404 got %s %s, want 404 or an error saying the session ended", resp.Status, body)
			}
		}
		resp, body = mcpPost(t, c, url, sid, `{"jsonrpc":"2.0","id":4,"method":"ping"}`)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("the next request got %s %s, want 404", resp.Status, body)
		}
		// The client starts over.
		if f.forgotten.Store(false); openSession(t, c, url) == sid {
			t.Fatal("the new session has the old id")
		}
		// The upstream ended the session itself: the proxy sends no DELETE.
		// A sleep: what is checked is that no request comes.
		time.Sleep(100 * time.Millisecond)
		if dels := f.log.requests(http.MethodDelete); len(dels) != 0 {
			t.Errorf("the proxy sent %d DELETEs for a session the upstream had ended", len(dels))
		}
	})

	t.Run("client DELETE reaches the upstream", func(t *testing.T) {
		srv := newEchoServer("caddytest-delete")
		var upLog requestLog
		up := httptest.NewServer(upLog.wrap(goSDKHandler(srv)))
		t.Cleanup(up.Close)
		url := startProxy(t, httpProxySite(up.URL+"/mcp"), goroutinesChecked) + "/mcp"
		sid := openSession(t, c, url)
		upstreamSID := upLog.sessionID(t)
		if sessionCount(srv) != 1 {
			t.Fatalf("the go-sdk server holds %d sessions, want 1", sessionCount(srv))
		}
		deleteSession(t, c, url, sid)
		waitUntil(t, 5*time.Second, "the upstream received a DELETE", func() bool { return len(upLog.requests(http.MethodDelete)) > 0 })
		dels := upLog.requests(http.MethodDelete)
		if len(dels) != 1 || dels[0].Header.Get("Mcp-Session-Id") != upstreamSID {
			t.Fatalf("the upstream received DELETEs %+v, want one for its session %q", dels, upstreamSID)
		}
		waitUntil(t, 5*time.Second, "the go-sdk server ended the session", func() bool { return sessionCount(srv) == 0 })
		if resp, body := mcpPost(t, c, url, sid, `{"jsonrpc":"2.0","id":5,"method":"ping"}`); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("a deleted session answered %s %s, want 404", resp.Status, body)
		}
	})
}
