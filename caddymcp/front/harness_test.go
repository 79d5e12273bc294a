package front

// The test harness: a scripted fake MCP server behind a Server served by
// httptest, an HTTP client that speaks the Streamable HTTP transport, and a
// spec-compliant SSE parser. Every wait is bounded (waitLimit), so a broken
// front fails a test instead of hanging it.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
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
// FAULT INJECTION: a fake upstream whose connections hand every message the
// front sends to a scripted MCP server (fakeUpstream.handle). The script
// answers initialize, echoes tools/call and, depending on the tool name,
// emits progress, sends a sampling request and waits for the client's
// answer, waits for the test's release, hangs, or crashes.
// ---------------------------------------------------------------------------

type fakeUpstream struct {
	openErr  error  // returned by Open when set
	capacity int    // >0: at most this many open conns, as a stdio pool; Open then asks to reclaim
	version  string // protocolVersion answered to initialize; "" echoes the client's
	syncSend bool   // Send returns only after the script handled the message
	// script, when set, sees each message first; returning true means it
	// handled the message.
	script func(c *fakeConn, m *pipeline.Message) bool

	release     chan struct{} // closed by releaseAll: "wait" tools answer
	releaseOnce sync.Once

	wg sync.WaitGroup // every goroutine of the fake

	mu      sync.Mutex
	conns   []*fakeConn
	changed chan struct{}
}

func newFakeUpstream() *fakeUpstream {
	return &fakeUpstream{release: make(chan struct{}), changed: make(chan struct{})}
}

func (u *fakeUpstream) releaseAll() { u.releaseOnce.Do(func() { close(u.release) }) }

// Open implements upstream.Upstream.
func (u *fakeUpstream) Open(ctx context.Context, r upstream.Receiver) (upstream.Conn, error) {
	if u.openErr != nil {
		return nil, u.openErr
	}
	if u.capacity > 0 && u.live() >= u.capacity {
		// As a full stdio pool does: ask for an idle session's process and
		// wait for it to be given up.
		if !upstream.Reclaim(ctx) {
			return nil, &upstream.BusyError{RetryAfter: 2 * time.Second, Err: errors.New("fake upstream at capacity")}
		}
		// The session that gave way closed its conn before Reclaim returned.
		if u.live() >= u.capacity {
			return nil, errors.New("fake upstream: Reclaim reported success but no conn closed")
		}
	}
	c := &fakeConn{up: u, r: r, outbox: make(chan outItem), done: make(chan struct{}),
		changed: make(chan struct{}), waiters: make(map[string]chan *pipeline.Message)}
	u.mu.Lock()
	u.conns = append(u.conns, c)
	close(u.changed)
	u.changed = make(chan struct{})
	u.mu.Unlock()
	u.wg.Add(1)
	go c.run()
	return c, nil
}

// conn waits for the i-th connection opened (0-based).
func (u *fakeUpstream) conn(t testing.TB, i int) *fakeConn {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		u.mu.Lock()
		if i < len(u.conns) {
			c := u.conns[i]
			u.mu.Unlock()
			return c
		}
		ch := u.changed
		u.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for upstream connection #%d", i)
		}
	}
}

// live counts the conns not closed yet.
func (u *fakeUpstream) live() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, c := range u.conns {
		if !c.isClosed() {
			n++
		}
	}
	return n
}

func (u *fakeUpstream) opened() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.conns)
}

type outItem struct {
	m        *pipeline.Message // delivered when set, else Closed(closeErr)
	related  json.RawMessage   // DeliverRelated to this request id when set
	closeErr error
	ack      chan struct{}
}

type fakeConn struct {
	up     *fakeUpstream
	r      upstream.Receiver
	outbox chan outItem

	stopOnce    sync.Once
	done        chan struct{} // closed when the connection ended
	serverIDSeq int

	mu        sync.Mutex
	received  []*pipeline.Message
	changed   chan struct{}
	waiters   map[string]chan *pipeline.Message // server request id -> client's answer
	listening int                               // upstream.Listener count
	listenLog []bool
}

// Listen implements upstream.Listener.
func (c *fakeConn) Listen(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if on {
		c.listening++
	} else {
		c.listening--
	}
	c.listenLog = append(c.listenLog, on)
	close(c.changed)
	c.changed = make(chan struct{})
}

// waitListening waits until the Listen count is n.
func (c *fakeConn) waitListening(t testing.TB, n int) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		c.mu.Lock()
		got, ch := c.listening, c.changed
		c.mu.Unlock()
		if got == n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %d listeners; have %d", n, got)
		}
	}
}

// run is the connection's reader: it calls the Receiver in order.
func (c *fakeConn) run() {
	defer c.up.wg.Done()
	for {
		select {
		case it := <-c.outbox:
			if it.m != nil {
				if it.related != nil {
					c.r.(upstream.RelatedReceiver).DeliverRelated(it.m, it.related)
				} else {
					c.r.Deliver(it.m)
				}
			} else {
				c.r.Closed(it.closeErr)
				c.stop()
				close(it.ack)
				return
			}
			close(it.ack)
		case <-c.done:
			return
		}
	}
}

func (c *fakeConn) stop() { c.stopOnce.Do(func() { close(c.done) }) }

// Close implements upstream.Conn.
func (c *fakeConn) Close() { c.stop() }

// Send implements upstream.Conn: it records m and hands it to the script.
func (c *fakeConn) Send(ctx context.Context, m *pipeline.Message) error {
	select {
	case <-c.done:
		return upstream.ErrClosed
	default:
	}
	c.mu.Lock()
	c.received = append(c.received, m)
	close(c.changed)
	c.changed = make(chan struct{})
	var waiter chan *pipeline.Message
	if m.IsResponse() {
		waiter = c.waiters[m.IDKey()]
		delete(c.waiters, m.IDKey())
	}
	c.mu.Unlock()
	if waiter != nil {
		waiter <- m // buffered 1
		return nil
	}
	handled := make(chan struct{})
	c.up.wg.Add(1)
	go func() {
		defer c.up.wg.Done()
		defer close(handled)
		c.up.handle(c, m)
	}()
	if c.up.syncSend {
		select {
		case <-handled:
		case <-ctx.Done():
		case <-c.done:
		}
	}
	return nil
}

// emit hands m to the front through the reader and waits until it was
// delivered. It reports false if the connection ended first.
func (c *fakeConn) emit(m *pipeline.Message) bool {
	it := outItem{m: m, ack: make(chan struct{})}
	select {
	case c.outbox <- it:
	case <-c.done:
		return false
	}
	<-it.ack
	return true
}

// emitRelated is emit through DeliverRelated, as an upstream that knows
// which request a message belongs to (HTTP) does.
func (c *fakeConn) emitRelated(t testing.TB, raw string, requestID string) {
	t.Helper()
	it := outItem{m: mustParse(t, raw), related: json.RawMessage(requestID), ack: make(chan struct{})}
	select {
	case c.outbox <- it:
	case <-c.done:
		t.Fatalf("the upstream connection ended before %s was delivered", raw)
	}
	<-it.ack
}

// emitRaw is emit for a literal message.
func (c *fakeConn) emitRaw(t testing.TB, raw string) {
	t.Helper()
	if !c.emit(mustParse(t, raw)) {
		t.Fatalf("the upstream connection ended before %s was delivered", raw)
	}
}

// crash makes the server side end: the front's Receiver gets Closed(err)
// after every message emitted before.
func (c *fakeConn) crash(err error) {
	it := outItem{closeErr: err, ack: make(chan struct{})}
	select {
	case c.outbox <- it:
		<-it.ack
	case <-c.done:
	}
}

// request sends a server request and waits for the client's answer.
func (c *fakeConn) request(method, params string) *pipeline.Message {
	c.mu.Lock()
	c.serverIDSeq++
	id := fmt.Sprintf(`"srv-%d"`, c.serverIDSeq)
	ch := make(chan *pipeline.Message, 1)
	c.waiters[id] = ch
	c.mu.Unlock()
	m, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":` + id + `,"method":"` + method + `","params":` + params + `}`))
	if err != nil {
		panic(err)
	}
	if !c.emit(m) {
		return nil
	}
	select {
	case resp := <-ch:
		return resp
	case <-c.done:
		return nil
	}
}

// waitFor waits until the server received a message matching pred.
func (c *fakeConn) waitFor(t testing.TB, what string, pred func(*pipeline.Message) bool) *pipeline.Message {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		c.mu.Lock()
		for _, m := range c.received {
			if pred(m) {
				c.mu.Unlock()
				return m
			}
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for the upstream to receive %s; it got %s", what, c.receivedSummary())
		}
	}
}

// waitMethod waits for a message with the given method (and id, if not "").
func (c *fakeConn) waitMethod(t testing.TB, method, id string) *pipeline.Message {
	t.Helper()
	return c.waitFor(t, method+" "+id, func(m *pipeline.Message) bool {
		return m.Method == method && (id == "" || string(m.ID) == id)
	})
}

func (c *fakeConn) receivedSummary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, m := range c.received {
		parts = append(parts, string(m.Raw))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (c *fakeConn) waitClosed(t testing.TB) {
	t.Helper()
	within(t, c.done, "the upstream connection to close")
}

func (c *fakeConn) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// handle is the scripted MCP server.
func (u *fakeUpstream) handle(c *fakeConn, m *pipeline.Message) {
	if u.script != nil && u.script(c, m) {
		return
	}
	if !m.IsRequest() {
		return
	}
	switch m.Method {
	case "initialize":
		v := u.version
		if v == "" {
			v = m.ParamsProtocolVersion()
		}
		c.emit(pipeline.NewResult(m.ID, json.RawMessage(`{"protocolVersion":"`+v+`","capabilities":{"tools":{"listChanged":true}},"serverInfo":{"name":"fake","version":"0"}}`)))
	case "ping":
		c.emit(pipeline.NewResult(m.ID, nil))
	case "tools/call":
		var p struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		}
		_ = json.Unmarshal(m.Params, &p)
		args := p.Arguments
		if len(args) == 0 {
			args = json.RawMessage("null")
		}
		switch p.Name {
		case "progress": // one progress notification, then the result
			tok := m.ProgressToken()
			c.emit(pipeline.NewNotification("notifications/progress",
				json.RawMessage(`{"progressToken":`+string(tok)+`,"progress":1,"total":2}`)))
		case "sample": // a sampling request, answered by the client
			resp := c.request("sampling/createMessage", `{"messages":[],"maxTokens":1}`)
			if resp == nil {
				return
			}
			res := resp.Result
			if res == nil {
				res = resp.Error
			}
			c.emit(pipeline.NewResult(m.ID, json.RawMessage(`{"sampled":`+string(res)+`}`)))
			return
		case "wait": // answers once the test calls releaseAll
			select {
			case <-u.release:
			case <-c.done:
				return
			}
		case "hang": // never answers
			<-c.done
			return
		case "crash":
			c.crash(errors.New("fault injection: the server crashed"))
			return
		}
		c.emit(pipeline.NewResult(m.ID, json.RawMessage(`{"tool":"`+p.Name+`","echo":`+string(args)+`}`)))
	default:
		c.emit(pipeline.NewError(m.ID, pipeline.CodeMethodNotFound, "fake: unknown method "+m.Method))
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

// ---------------------------------------------------------------------------
// SSE, client side.
// ---------------------------------------------------------------------------

// sseEvent is one blank-line-terminated block of an event stream.
type sseEvent struct {
	id       string
	hasID    bool
	event    string
	data     string
	hasData  bool
	retry    string
	comments []string
}

// commentOnly reports a block without fields (a keep-alive).
func (e sseEvent) commentOnly() bool {
	return !e.hasID && !e.hasData && e.event == "" && e.retry == ""
}

// parseSSE parses an event stream as the HTML standard does: lines end in
// CRLF, LF or CR; a field's value loses one leading space; data lines join
// with LF. yield returning false stops.
func parseSSE(r io.Reader, yield func(sseEvent) bool) error {
	br := bufio.NewReader(r)
	var cur sseEvent
	dirty := false
	var dataLines []string
	for {
		line, err := readSSELine(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if line == "" {
			if dirty {
				if len(dataLines) > 0 {
					cur.hasData = true
					cur.data = strings.Join(dataLines, "\n")
				}
				if !yield(cur) {
					return nil
				}
			}
			cur, dirty, dataLines = sseEvent{}, false, nil
			continue
		}
		dirty = true
		if strings.HasPrefix(line, ":") {
			cur.comments = append(cur.comments, strings.TrimPrefix(strings.TrimPrefix(line, ":"), " "))
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			cur.id, cur.hasID = value, true
		case "event":
			cur.event = value
		case "data":
			dataLines = append(dataLines, value)
		case "retry":
			cur.retry = value
		}
	}
}

func readSSELine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			if len(b) > 0 && errors.Is(err, io.EOF) {
				return "", io.ErrUnexpectedEOF
			}
			return "", err
		}
		switch c {
		case '\n':
			return string(b), nil
		case '\r':
			if next, err := br.Peek(1); err == nil && next[0] == '\n' {
				_, _ = br.ReadByte()
			}
			return string(b), nil
		}
		b = append(b, c)
	}
}

// sseStream reads an open event stream incrementally.
type sseStream struct {
	resp   *http.Response
	events chan sseEvent
	quit   chan struct{}
	ended  chan struct{}
	err    error
}

// openStream sends r and expects a 200 event stream.
func (h *harness) openStream(t testing.TB, ctx context.Context, r req) *sseStream {
	t.Helper()
	resp := h.send(t, ctx, r)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("want a 200 event stream, got %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return newSSEStream(t, resp)
}

func newSSEStream(t testing.TB, resp *http.Response) *sseStream {
	s := &sseStream{resp: resp, events: make(chan sseEvent), quit: make(chan struct{}), ended: make(chan struct{})}
	go func() {
		defer close(s.ended)
		s.err = parseSSE(resp.Body, func(ev sseEvent) bool {
			select {
			case s.events <- ev:
				return true
			case <-s.quit:
				return false
			}
		})
	}()
	t.Cleanup(func() {
		close(s.quit)
		resp.Body.Close()
		<-s.ended
	})
	return s
}

// nextBlock returns the next block, keep-alives included.
func (s *sseStream) nextBlock(t testing.TB) sseEvent {
	t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case <-s.ended:
		t.Fatalf("the event stream ended (err %v) while an event was expected", s.err)
	case <-time.After(waitLimit):
		t.Fatalf("timed out waiting for an event")
	}
	panic("unreachable")
}

// next returns the next block that is not a keep-alive comment.
func (s *sseStream) next(t testing.TB) sseEvent {
	t.Helper()
	for {
		if ev := s.nextBlock(t); !ev.commentOnly() {
			return ev
		}
	}
}

// nextMessage returns the next event carrying a JSON-RPC message, skipping
// priming events (an id and empty data).
func (s *sseStream) nextMessage(t testing.TB) (sseEvent, rpcMsg) {
	t.Helper()
	for {
		ev := s.next(t)
		if ev.hasID && ev.data == "" {
			continue
		}
		if !ev.hasData || ev.data == "" {
			t.Fatalf("want a message event, got %+v", ev)
		}
		return ev, decodeMsg(t, []byte(ev.data))
	}
}

// expectEnd waits for the stream to end with no further event (keep-alives
// and retry hints aside).
func (s *sseStream) expectEnd(t testing.TB) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case ev := <-s.events:
			if !ev.commentOnly() && (ev.hasID || ev.hasData) {
				t.Fatalf("want the stream to end, got event %+v", ev)
			}
		case <-s.ended:
			if s.err != nil {
				t.Fatalf("the stream ended with an error: %v", s.err)
			}
			return
		case <-deadline:
			t.Fatalf("timed out waiting for the stream to end")
		}
	}
}
