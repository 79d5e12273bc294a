package front

// The test harness: a scripted fake MCP server (fakeupstream_test.go)
// behind a Server served by httptest, an HTTP client that speaks the
// Streamable HTTP transport, and a spec-compliant SSE parser
// (sseclient_test.go). Every wait is bounded (waitLimit), so a broken front
// fails a test instead of hanging it.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitLimit bounds every wait of a test.
const waitLimit = 5 * time.Second

// within waits for ch to be closed or to yield, or fails the test.
func within[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("timed out after %v waiting for %s", waitLimit, what)
		panic("unreachable")
	}
}

// ---------------------------------------------------------------------------
// The harness: Store + Server + httptest server + fake upstream.
// ---------------------------------------------------------------------------

type setup struct {
	maxSessions int
	perClient   int
	idle        time.Duration
	grace       time.Duration // how long new sessions are spared eviction; 0 here, unlike DefaultEvictionGrace
	cfg         Config
	up          *fakeUpstream
}

type harness struct {
	t      *testing.T
	up     *fakeUpstream
	store  *Store
	server *Server
	srv    *httptest.Server

	mu   sync.Mutex
	done map[string]chan struct{} // X-Test-Tag -> closed when its handler returned
}

func newHarness(t *testing.T, mods ...func(*setup)) *harness {
	t.Helper()
	s := &setup{up: newFakeUpstream()}
	for _, mod := range mods {
		mod(s)
	}
	h := &harness{t: t, up: s.up, done: make(map[string]chan struct{})}
	h.store = NewStore(Limits{MaxSessions: s.maxSessions, MaxSessionsPerClient: s.perClient, IdleTimeout: s.idle}, nil)
	h.store.grace.Store(int64(s.grace))
	cfg := s.cfg
	cfg.Upstream = h.up
	cfg.Store = h.store
	srv, err := New(cfg)
	if err != nil {
		h.store.Close("test setup failed")
		t.Fatal(err)
	}
	h.server = srv
	h.srv = httptest.NewServer(h.wrap(srv))
	// Cleanups run last-registered first: the store ends every session
	// (so streams end and handlers return), then the HTTP server closes,
	// then the fake's goroutines are waited for.
	t.Cleanup(h.up.wg.Wait)
	t.Cleanup(h.srv.Close)
	t.Cleanup(func() { h.store.Close("test over") })
	return h
}

// wrap reports when a tagged request's handler returned.
func (h *harness) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tag := r.Header.Get("X-Test-Tag"); tag != "" {
			defer close(h.handlerDone(tag))
		}
		next.ServeHTTP(w, r)
	})
}

func (h *harness) handlerDone(tag string) chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := h.done[tag]
	if ch == nil {
		ch = make(chan struct{})
		h.done[tag] = ch
	}
	return ch
}

// req describes one HTTP request to the endpoint.
type req struct {
	method      string // default POST
	sid         string
	version     string // MCP-Protocol-Version
	body        string
	accept      string // default: what a well-behaved client sends
	contentType string // default application/json on POST
	host        string
	origin      string
	lastEventID string
	tag         string // X-Test-Tag, see harness.wrap
	user        string // X-Test-User, read by Clients.User in tests that set it
	noAccept    bool   // send no Accept header at all
}

// build makes the HTTP request r describes.
func (h *harness) build(ctx context.Context, r req) (*http.Request, error) {
	method := r.method
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequestWithContext(ctx, method, h.srv.URL, body)
	if err != nil {
		return nil, err
	}
	accept := r.accept
	if accept == "" {
		accept = "application/json, text/event-stream"
		if method == http.MethodGet {
			accept = "text/event-stream"
		}
	}
	if !r.noAccept {
		hr.Header.Set("Accept", accept)
	}
	ct := r.contentType
	if ct == "" && method == http.MethodPost {
		ct = "application/json"
	}
	if ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	if r.sid != "" {
		hr.Header.Set("Mcp-Session-Id", r.sid)
	}
	if r.version != "" {
		hr.Header.Set("MCP-Protocol-Version", r.version)
	}
	if r.host != "" {
		hr.Host = r.host
	}
	if r.origin != "" {
		hr.Header.Set("Origin", r.origin)
	}
	if r.lastEventID != "" {
		hr.Header.Set("Last-Event-ID", r.lastEventID)
	}
	if r.tag != "" {
		hr.Header.Set("X-Test-Tag", r.tag)
	}
	if r.user != "" {
		hr.Header.Set("X-Test-User", r.user)
	}
	return hr, nil
}

// send issues r and returns the response with its body still open (closed
// at cleanup). ctx may be nil.
func (h *harness) send(t testing.TB, ctx context.Context, r req) *http.Response {
	t.Helper()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	hr, err := h.build(ctx, r)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	// Bound the wait for the response headers, not the body.
	timedOut := make(chan struct{})
	timer := time.AfterFunc(waitLimit, func() { close(timedOut); cancel() })
	resp, err := h.srv.Client().Do(hr)
	if !timer.Stop() {
		<-timedOut
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		t.Fatalf("%s: timed out after %v waiting for the response headers", hr.Method, waitLimit)
	}
	if err != nil {
		cancel()
		t.Fatalf("%s: %v", hr.Method, err)
	}
	t.Cleanup(func() { resp.Body.Close(); cancel() })
	return resp
}

// pending is a request running in the background.
type pending struct {
	done chan struct{}
	rp   reply
	err  error
}

// start sends r in the background; its answer is read completely. At
// cleanup the request is aborted if it still runs.
func (h *harness) start(t testing.TB, r req) *pending {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &pending{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		hr, err := h.build(ctx, r)
		if err != nil {
			p.err = err
			return
		}
		resp, err := h.srv.Client().Do(hr)
		if err != nil {
			p.err = err
			return
		}
		defer resp.Body.Close()
		p.rp, p.err = readReply(resp)
	}()
	t.Cleanup(func() { cancel(); <-p.done })
	return p
}

// wait returns the background request's answer.
func (p *pending) wait(t testing.TB) reply {
	t.Helper()
	within(t, p.done, "a background request to finish")
	if p.err != nil {
		t.Fatalf("background request: %v", p.err)
	}
	return p.rp
}

func readReply(resp *http.Response) (reply, error) {
	rp := reply{status: resp.StatusCode, header: resp.Header}
	var err error
	if rp.isSSE() {
		err = parseSSE(resp.Body, func(ev sseEvent) bool {
			rp.events = append(rp.events, ev)
			return true
		})
	} else {
		rp.body, err = io.ReadAll(resp.Body)
	}
	return rp, err
}

// reply is a complete answer: the body of a plain response, or the events
// of a stream that ended.
type reply struct {
	status int
	header http.Header
	body   []byte
	events []sseEvent // for text/event-stream
}

func (rp reply) isSSE() bool {
	return strings.HasPrefix(rp.header.Get("Content-Type"), "text/event-stream")
}

// do sends r and reads the whole answer, within waitLimit.
func (h *harness) do(t testing.TB, r req) reply {
	t.Helper()
	return h.start(t, r).wait(t)
}

// messages returns the JSON-RPC messages of a reply: the body, or the data
// of each non-empty event.
func (rp reply) messages(t testing.TB) []rpcMsg {
	t.Helper()
	if !rp.isSSE() {
		if len(bytes.TrimSpace(rp.body)) == 0 {
			return nil
		}
		return []rpcMsg{decodeMsg(t, rp.body)}
	}
	var out []rpcMsg
	for _, ev := range rp.events {
		if ev.hasData && ev.data != "" {
			out = append(out, decodeMsg(t, []byte(ev.data)))
		}
	}
	return out
}

// only returns the single message of a reply.
func (rp reply) only(t testing.TB) rpcMsg {
	t.Helper()
	msgs := rp.messages(t)
	if len(msgs) != 1 {
		t.Fatalf("want exactly one message, got %d: %s", len(msgs), rp)
	}
	return msgs[0]
}

func (rp reply) String() string {
	if rp.isSSE() {
		return fmt.Sprintf("%d SSE %+v", rp.status, rp.events)
	}
	return fmt.Sprintf("%d %s %q", rp.status, rp.header.Get("Content-Type"), rp.body)
}

// rpcMsg is a decoded JSON-RPC message.
type rpcMsg struct {
	raw    string
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeMsg(t testing.TB, b []byte) rpcMsg {
	t.Helper()
	var m rpcMsg
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON-RPC message: %q: %v", b, err)
	}
	m.raw = string(b)
	return m
}

// wantError checks a reply's status and its (single) JSON-RPC error.
func wantError(t testing.TB, rp reply, status, code int, substr string) rpcMsg {
	t.Helper()
	if rp.status != status {
		t.Fatalf("status = %d, want %d; answer: %s", rp.status, status, rp)
	}
	m := rp.only(t)
	if m.Error == nil {
		t.Fatalf("want a JSON-RPC error %d, got %s", code, m.raw)
	}
	if m.Error.Code != code {
		t.Errorf("error code = %d, want %d (%s)", m.Error.Code, code, m.raw)
	}
	if !strings.Contains(m.Error.Message, substr) {
		t.Errorf("error message %q does not contain %q", m.Error.Message, substr)
	}
	return m
}

// wantStatus checks a reply's status.
func wantStatus(t testing.TB, rp reply, status int) {
	t.Helper()
	if rp.status != status {
		t.Fatalf("status = %d, want %d; answer: %s", rp.status, status, rp)
	}
}

// JSON-RPC bodies.

func rpcRequest(id any, method, params string) string {
	idJSON, _ := json.Marshal(id)
	if params == "" {
		return `{"jsonrpc":"2.0","id":` + string(idJSON) + `,"method":"` + method + `"}`
	}
	return `{"jsonrpc":"2.0","id":` + string(idJSON) + `,"method":"` + method + `","params":` + params + `}`
}

func rpcNotification(method, params string) string {
	if params == "" {
		return `{"jsonrpc":"2.0","method":"` + method + `"}`
	}
	return `{"jsonrpc":"2.0","method":"` + method + `","params":` + params + `}`
}

func toolCall(id any, name string) string {
	return rpcRequest(id, "tools/call", `{"name":"`+name+`","arguments":{"n":1}}`)
}

func initBody(version string) string {
	return rpcRequest(0, "initialize",
		`{"protocolVersion":"`+version+`","capabilities":{"sampling":{}},"clientInfo":{"name":"front-test","version":"1"}}`)
}

func mustParse(t testing.TB, raw string) *pipeline.Message {
	t.Helper()
	m, err := pipeline.Parse([]byte(raw))
	if err != nil {
		t.Fatalf("parse %s: %v", raw, err)
	}
	return m
}

// initialize starts a session at version and sends notifications/initialized;
// it returns the session id.
func (h *harness) initialize(t testing.TB, version string) string {
	t.Helper()
	rp := h.do(t, req{body: initBody(version)})
	wantStatus(t, rp, http.StatusOK)
	sid := rp.header.Get("Mcp-Session-Id")
	if sid == "" {
		t.Fatalf("initialize answered without Mcp-Session-Id: %s", rp)
	}
	m := rp.only(t)
	if m.Error != nil || !bytes.Contains(m.Result, []byte(`"protocolVersion"`)) {
		t.Fatalf("initialize failed: %s", m.raw)
	}
	ack := h.do(t, req{sid: sid, version: version, body: rpcNotification("notifications/initialized", "")})
	wantStatus(t, ack, http.StatusAccepted)
	return sid
}

// session returns the live session with id sid.
func (h *harness) session(t testing.TB, sid string) *Session {
	t.Helper()
	s := h.store.get(sid)
	if s == nil {
		t.Fatalf("session %s is not in the store", sid)
	}
	return s
}

// connectSDK connects a go-sdk client over tr; the caller closes it.
func connectSDK(t testing.TB, ctx context.Context, tr mcp.Transport) *mcp.ClientSession {
	t.Helper()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, nil).Connect(ctx, tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}
