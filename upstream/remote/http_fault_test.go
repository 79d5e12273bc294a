package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// fakeSessionID is the session id of the fake servers below.
const fakeSessionID = "fake-session-0123"

// fakeServer is a small hand-written Streamable HTTP server for fault
// injection: it answers initialize (JSON, with a session id) and
// notifications (202) itself and hands everything else to serve, with the
// parsed POST message (nil for GET and DELETE).
func fakeServer(serve func(w http.ResponseWriter, r *http.Request, m *pipeline.Message)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m *pipeline.Message
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			var err error
			if m, err = pipeline.Parse(body); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			switch {
			case m.Method == "initialize":
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Mcp-Session-Id", fakeSessionID)
				_, _ = w.Write(pipeline.NewResult(m.ID, []byte(`{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"fake","version":"1"}}`)).Raw)
				return
			case !m.IsRequest():
				w.WriteHeader(http.StatusAccepted)
				return
			}
		}
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		serve(w, r, m)
	})
}

func startSSE(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
}

func writeSSE(w http.ResponseWriter, s string) {
	_, _ = io.WriteString(w, s)
	w.(http.Flusher).Flush()
}

func logMessage(n int) string {
	return `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":` + strconv.Itoa(n) + `}}`
}

// eventNumber parses an event id of the form <prefix>_<n>; 0 if absent.
func eventNumber(id string) int {
	_, n, _ := strings.Cut(id, "_")
	i, _ := strconv.Atoi(n)
	return i
}

func TestHTTPGetStreamSurvivesCuts(t *testing.T) {
	const total, perConn = 10, 3
	p := startPeer(t, fakeServer(func(w http.ResponseWriter, r *http.Request, _ *pipeline.Message) {
		if r.Method != http.MethodGet {
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		last := eventNumber(r.Header.Get("Last-Event-Id"))
		startSSE(w)
		writeSSE(w, ": ok\n\n")
		from := last + 1
		if last > 0 {
			from = last // replays one event too many: the client must drop it
		}
		for n := from; n <= total && n < last+1+perConn; n++ {
			// Mixed line endings, as SSE allows.
			writeSSE(w, "retry: 10\r\nid: g_"+strconv.Itoa(n)+"\r\ndata: "+logMessage(n)+"\n\n")
		}
		if last+perConn >= total {
			<-r.Context().Done() // all sent: hold the stream
		}
	}))
	var reconnects reconnectCounts
	h := newTestHTTP(t, Config{URL: p.srv.URL, OnReconnect: reconnects.count})
	rec := newHTTPRecorder()
	c := openConn(t, h, rec)
	handshake(t, c, rec, "2025-11-25")
	c.(upstream.Listener).Listen(true)

	rec.waitFor(t, total, func(d delivery) bool { return d.m.Method == "notifications/message" })
	time.Sleep(50 * time.Millisecond) // would a duplicate follow?
	got := rec.waitFor(t, total, func(d delivery) bool { return d.m.Method == "notifications/message" })
	for i, d := range got {
		if want := logMessage(i + 1); string(d.m.Raw) != want || d.hasRel {
			t.Fatalf("message %d: %s (related %v), want %s; all:%s", i, d.m.Raw, d.hasRel, want, rec.dump())
		}
	}
	if len(got) != total {
		t.Fatalf("%d messages, want %d (duplicates?):%s", len(got), total, rec.dump())
	}
	var lastIDs []string
	for _, r := range p.requests(http.MethodGet) {
		lastIDs = append(lastIDs, r.header.Get("Last-Event-Id"))
		if r.header.Get("Mcp-Session-Id") != fakeSessionID || r.header.Get("Accept") != "text/event-stream" {
			t.Errorf("GET headers %v", r.header)
		}
	}
	if want := []string{"", "g_3", "g_6", "g_9"}; !slices.Equal(lastIDs, want) {
		t.Fatalf("GETs sent Last-Event-ID %q, want %q", lastIDs, want)
	}
	reconnects.check(t, 3, 0) // every GET but the first
}

// reconnectCounts counts Config.OnReconnect calls by kind.
type reconnectCounts [2]atomic.Int32

func (r *reconnectCounts) count(k Reconnect) { r[k].Add(1) }

func (r *reconnectCounts) check(t *testing.T, get, resume int32) {
	t.Helper()
	if g, s := r[ReconnectGet].Load(), r[ReconnectResume].Load(); g != get || s != resume {
		t.Errorf("OnReconnect told of %d GET stream and %d resume reconnections, want %d and %d", g, s, get, resume)
	}
}

func TestHTTPPostStreamResumedAfterPriming(t *testing.T) {
	const progress = `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t","progress":1}}`
	const result = `{"jsonrpc":"2.0","id":5,"result":{"content":[]}}`
	p := startPeer(t, fakeServer(func(w http.ResponseWriter, r *http.Request, m *pipeline.Message) {
		switch last := r.Header.Get("Last-Event-Id"); {
		case m != nil: // the tools/call: prime, hint, hang up
			startSSE(w)
			writeSSE(w, "id: p_0\nretry: 10\ndata:\n\n")
		case last == "p_0": // first resume: one event, then cut again
			startSSE(w)
			writeSSE(w, "id: p_1\ndata: "+progress+"\n\n")
		case last == "p_1": // second resume replays p_1, then answers
			startSSE(w)
			writeSSE(w, "id: p_1\ndata: "+progress+"\n\nevent: message\nid: p_2\ndata: "+result+"\n\n")
		default:
			http.Error(w, "unexpected Last-Event-ID "+last, http.StatusBadRequest)
		}
	}))
	var reconnects reconnectCounts
	h := newTestHTTP(t, Config{URL: p.srv.URL, OnReconnect: reconnects.count})
	rec := newHTTPRecorder()
	c := openConn(t, h, rec)
	handshake(t, c, rec, "2025-11-25")
	send(t, c, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"slow","_meta":{"progressToken":"t"}}}`)
	if d := rec.response(t, "5"); string(d.m.Raw) != result || string(d.related) != "5" {
		t.Fatalf("response %s related %s", d.m.Raw, d.related)
	}
	time.Sleep(30 * time.Millisecond)
	var seq []string
	for _, d := range rec.all()[1:] { // after the initialize response
		seq = append(seq, string(d.m.Raw))
		if string(d.related) != "5" {
			t.Errorf("%s not related to request 5", d.m.Raw)
		}
	}
	if !slices.Equal(seq, []string{progress, result}) {
		t.Fatalf("deliveries %q", seq)
	}
	reconnects.check(t, 0, 2) // the two resumes
}

func TestHTTPFailuresAnswerTheRequest(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String() + "/mcp"
	dead.Close()

	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tlsSrv.Close)

	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	handler := func(w http.ResponseWriter, r *http.Request, m *pipeline.Message) {
		switch m.Method {
		case "slow":
			select {
			case <-r.Context().Done():
			case <-release:
			}
		case "bad-gateway":
			http.Error(w, "upstream of the upstream is down", http.StatusBadGateway)
		case "own-error":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write(pipeline.NewError(m.ID, -32602, "no such tool").Raw)
		case "idless-error":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write(pipeline.NewError(nil, -32600, "Bad Request: duplicate id").Raw)
		case "accepted":
			w.WriteHeader(http.StatusAccepted)
		case "redirect":
			http.Redirect(w, r, "/mcp/", http.StatusTemporaryRedirect)
		case "cut":
			startSSE(w)
			writeSSE(w, "data: "+logMessage(1)+"\n\n")
		case "huge":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"pad":"` + strings.Repeat("x", 2048) + `"}}`))
		}
	}
	p := startPeer(t, fakeServer(handler))

	// status is the HTTP status the client gets for a plain JSON answer:
	// 502/504 when the upstream gave no usable answer, 0 (the front's 200)
	// when it had answered 2xx and failed afterwards.
	// want is what the verbose message says; public what the default one
	// says, which names no URL, address or path.
	for _, tc := range []struct {
		name, url, method string
		status            int
		code              int
		want, public      []string
	}{
		{"no headers in time", p.srv.URL, "slow", 504, pipeline.CodeRequestTimeout, []string{"no response headers within 100ms"}, []string{"no response headers within 100ms"}},
		{"connection refused", deadURL, "x", 502, pipeline.CodeInternalError, []string{deadURL, "connection refused"}, []string{"could not be reached (connection refused)"}},
		{"TLS mismatch", tlsSrv.URL, "x", 502, pipeline.CodeInternalError, []string{"certificate"}, []string{"TLS certificate error"}},
		{"5xx", p.srv.URL, "bad-gateway", 502, pipeline.CodeInternalError, []string{"502 Bad Gateway", "upstream of the upstream is down"}, []string{"answered 502 Bad Gateway"}},
		{"4xx with an id-less JSON-RPC error", p.srv.URL, "idless-error", 502, pipeline.CodeInternalError, []string{"400 Bad Request", "duplicate id"}, []string{"answered 400 Bad Request"}},
		{"202 to a request", p.srv.URL, "accepted", 0, pipeline.CodeInternalError, []string{"202 Accepted"}, []string{"answered 202 Accepted with no response"}},
		{"redirect", p.srv.URL, "redirect", 502, pipeline.CodeInternalError, []string{"307", "/mcp/"}, []string{"answered 307 Temporary Redirect, a redirect"}},
		{"stream ends without response", p.srv.URL, "cut", 0, pipeline.CodeInternalError, []string{"ended before the response"}, []string{"ended before the response"}},
		{"response too large", p.srv.URL, "huge", 0, pipeline.CodeInternalError, []string{"max_message_size"}, []string{"failed to answer"}},
	} {
		for _, verbose := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/verbose=%v", tc.name, verbose), func(t *testing.T) {
				// Only the slow case may time out: a TLS handshake under -race on
				// a loaded machine can take longer than 100ms.
				timeout := 10 * time.Second
				if tc.method == "slow" {
					timeout = 100 * time.Millisecond
				}
				core, logs := observer.New(zap.InfoLevel)
				h := newTestHTTP(t, Config{URL: tc.url, ResponseHeaderTimeout: timeout, MaxMessageSize: 1024,
					VerboseErrors: verbose, Logger: zap.New(core)})
				rec := newHTTPRecorder()
				c := openConn(t, h, rec)
				if tc.url == p.srv.URL {
					handshake(t, c, rec, "2025-11-25")
				}
				send(t, c, `{"jsonrpc":"2.0","id":"req-1","method":"`+tc.method+`"}`)
				d := rec.response(t, `"req-1"`)
				var e struct {
					Code    int                   `json:"code"`
					Message string                `json:"message"`
					Data    upstream.GatewayError `json:"data"`
				}
				if err := json.Unmarshal(d.m.Error, &e); err != nil || string(d.related) != `"req-1"` {
					t.Fatalf("not an error response for req-1: %s (%v)", d.m.Raw, err)
				}
				want := tc.public
				if verbose {
					want = tc.want
				}
				for _, w := range want {
					if !strings.Contains(e.Message, w) {
						t.Errorf("message %q lacks %q", e.Message, w)
					}
				}
				if verbose {
					if !strings.HasPrefix(e.Message, "upstream MCP server "+h.URL()+": ") {
						t.Errorf("message %q does not name the upstream first", e.Message)
					}
				} else {
					u, _ := url.Parse(tc.url)
					for _, secret := range []string{tc.url, u.Host, u.Hostname(), u.Port(), "/mcp"} {
						if strings.Contains(string(d.m.Raw), secret) {
							t.Errorf("the client's error names %q: %s", secret, d.m.Raw)
						}
					}
				}
				if e.Code != tc.code || upstream.GatewayStatus(d.m) != tc.status || len(e.Data.CorrelationID) != 24 {
					t.Errorf("code %d, gateway status %d, data %+v; want %d, %d and a correlation id", e.Code, upstream.GatewayStatus(d.m), e.Data, tc.code, tc.status)
				}
				// The log line with the detail carries the same id.
				lines := logs.FilterField(zap.String("correlation_id", e.Data.CorrelationID)).All()
				if len(lines) != 1 {
					t.Fatalf("%d log lines carry correlation_id %s; all: %v", len(lines), e.Data.CorrelationID, logs.All())
				}
				for _, line := range logs.All() {
					checkKeysOnce(t, line)
				}
				detail := lines[0].ContextMap()
				if detail["upstream"] != h.URL() || !strings.Contains(fmt.Sprint(detail["detail"]), tc.want[len(tc.want)-1]) {
					t.Errorf("the log line lacks the detail: %v", detail)
				}
			})
		}
	}

	t.Run("the server's own JSON-RPC error passes through", func(t *testing.T) {
		h := newTestHTTP(t, Config{URL: p.srv.URL})
		rec := newHTTPRecorder()
		c := openConn(t, h, rec)
		handshake(t, c, rec, "2025-11-25")
		send(t, c, `{"jsonrpc":"2.0","id":11,"method":"own-error"}`)
		if d := rec.response(t, "11"); string(d.m.Raw) != string(pipeline.NewError([]byte("11"), -32602, "no such tool").Raw) || upstream.GatewayStatus(d.m) != 0 {
			t.Fatalf("got %s", d.m.Raw)
		}
	})
	t.Run("a failed notification is Send's error", func(t *testing.T) {
		h := newTestHTTP(t, Config{URL: deadURL})
		c := openConn(t, h, newHTTPRecorder())
		err := c.Send(context.Background(), mustParse(t, initializedMsg))
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("Send: %v", err)
		}
	})
}

func TestHTTPHeaders(t *testing.T) {
	p := startPeer(t, fakeServer(func(w http.ResponseWriter, _ *http.Request, m *pipeline.Message) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(pipeline.NewResult(m.ID, nil).Raw)
	}))
	type clientKey struct{}
	// The client's request as the Caddy layer would find it in the context.
	client := httptest.NewRequest(http.MethodPost, "https://gateway.example/mcp", nil)
	client.Header.Set("Authorization", "Bearer client-token")
	ctx := context.WithValue(context.Background(), clientKey{}, client)

	for _, pass := range []bool{false, true} {
		t.Run(fmt.Sprintf("pass authorization %v", pass), func(t *testing.T) {
			var calls atomic.Int32
			h := newTestHTTP(t, Config{URL: p.srv.URL, Headers: func(ctx context.Context) http.Header {
				calls.Add(1)
				r := ctx.Value(clientKey{}).(*http.Request)
				hdr := http.Header{"X-Api-Key": {"upstream-key"}, "X-Client-Host": {r.Host},
					// The transport's own headers cannot be configured.
					"mcp-session-id": {"forged"}, "Accept": {"text/html"}}
				if pass {
					hdr.Set("Authorization", r.Header.Get("Authorization"))
				}
				return hdr
			}})
			rec := newHTTPRecorder()
			c, err := h.Open(ctx, rec)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			before := len(p.requests(""))
			handshake(t, c, rec, "2025-11-25")
			send(t, c, `{"jsonrpc":"2.0","id":2,"method":"ping"}`)
			rec.response(t, "2")
			reqs := p.requests("")[before:]
			if len(reqs) != 3 || calls.Load() != 1 {
				t.Fatalf("%d requests, Headers called %d times; want 3 and 1", len(reqs), calls.Load())
			}
			for _, r := range reqs {
				if r.host != p.srv.Listener.Addr().String() {
					t.Errorf("Host %q, want the upstream's %q", r.host, p.srv.Listener.Addr())
				}
				if r.header.Get("X-Api-Key") != "upstream-key" || r.header.Get("X-Client-Host") != "gateway.example" {
					t.Errorf("configured headers missing: %v", r.header)
				}
				if got := r.header.Get("Authorization"); (got == "Bearer client-token") != pass || (!pass && got != "") {
					t.Errorf("Authorization %q with passthrough %v", got, pass)
				}
				if r.header.Get("Content-Type") != "application/json" || r.header.Get("Accept") != "application/json, text/event-stream" {
					t.Errorf("protocol headers: %v", r.header)
				}
				if sid := r.header.Values("Mcp-Session-Id"); slices.Contains(sid, "forged") || len(sid) > 1 {
					t.Errorf("a configured header replaced the session id: %q", sid)
				}
			}
		})
	}
}

func TestHTTPReusesConnections(t *testing.T) {
	fake := startPeer(t, fakeServer(func(w http.ResponseWriter, _ *http.Request, m *pipeline.Message) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(pipeline.NewResult(m.ID, nil).Raw)
	}))
	sdk, _ := startGoSDKPeer(t, &mcp.StreamableHTTPOptions{})
	for _, tc := range []struct {
		name string
		p    *peer
	}{{"JSON responses", fake}, {"SSE responses from go-sdk", sdk}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHTTP(t, Config{URL: tc.p.srv.URL})
			for s := range 3 { // three sessions share the upstream's transport
				rec := newHTTPRecorder()
				c := openConn(t, h, rec)
				handshake(t, c, rec, "2025-11-25")
				for i := range 10 {
					id := strconv.Itoa(s*100 + i)
					send(t, c, `{"jsonrpc":"2.0","id":`+id+`,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}`)
					rec.response(t, id)
				}
				c.Close()
				h.Wait() // the DELETE, so it does not overlap the next session
			}
			// A request sent while the previous response stream is still
			// ending needs another connection (and a dial that started
			// then lands in the idle pool), so a few, not one per request.
			if n := tc.p.newConns.Load(); n > 6 {
				t.Fatalf("36 sequential requests opened %d connections", n)
			}
		})
	}
}

func TestHTTPBoundsRequestsInFlight(t *testing.T) {
	release := make(chan struct{})
	p := startPeer(t, fakeServer(func(w http.ResponseWriter, r *http.Request, m *pipeline.Message) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(pipeline.NewResult(m.ID, nil).Raw)
	}))
	h := newTestHTTP(t, Config{URL: p.srv.URL, MaxInFlight: 2})
	rec := newHTTPRecorder()
	c := openConn(t, h, rec)
	handshake(t, c, rec, "2025-11-25")
	send(t, c, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	send(t, c, `{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := c.Send(ctx, mustParse(t, `{"jsonrpc":"2.0","id":3,"method":"ping"}`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third Send with two in flight: %v, want to wait until the deadline", err)
	}
	close(release)
	rec.response(t, "1")
	rec.response(t, "2")
	send(t, c, `{"jsonrpc":"2.0","id":3,"method":"ping"}`)
	rec.response(t, "3")
}

func TestHTTPCloseCancelsAndDeletes(t *testing.T) {
	arrived, cancelled := make(chan struct{}), make(chan struct{})
	p := startPeer(t, fakeServer(func(_ http.ResponseWriter, r *http.Request, _ *pipeline.Message) {
		close(arrived)
		<-r.Context().Done()
		close(cancelled)
	}))
	h := newTestHTTP(t, Config{URL: p.srv.URL})
	rec := newHTTPRecorder()
	c := openConn(t, h, rec)
	handshake(t, c, rec, "2025-11-25")
	send(t, c, `{"jsonrpc":"2.0","id":1,"method":"tools/call"}`)
	// Close must cancel a request the server is working on; one that had
	// not left yet when Close came is never sent at all.
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the server")
	}
	c.Close()
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the request in flight was not cancelled by Close")
	}
	h.Wait()
	dels := p.requests(http.MethodDelete)
	if len(dels) != 1 || dels[0].header.Get("Mcp-Session-Id") != fakeSessionID {
		t.Fatalf("DELETEs: %+v", dels)
	}
	if n := len(rec.all()); n != 1 {
		t.Fatalf("deliveries after Close:%s", rec.dump())
	}
	select {
	case err := <-rec.closed:
		t.Fatalf("Closed after Close: %v", err)
	default:
	}
}

func TestHTTPGetStreamStatuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
	}{
		{"405 means no GET stream", http.StatusMethodNotAllowed},
		{"404 means the session is gone", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPeer(t, fakeServer(func(w http.ResponseWriter, _ *http.Request, _ *pipeline.Message) {
				w.WriteHeader(tc.status)
			}))
			h := newTestHTTP(t, Config{URL: p.srv.URL})
			rec := newHTTPRecorder()
			c := openConn(t, h, rec)
			handshake(t, c, rec, "2025-11-25")
			c.(upstream.Listener).Listen(true)
			eventually(t, "the GET", func() bool { return len(p.requests(http.MethodGet)) == 1 })
			if tc.status == http.StatusNotFound {
				select {
				case err := <-rec.closed:
					if !strings.Contains(err.Error(), "404") {
						t.Fatalf("Closed(%v)", err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("no Closed after a 404 to the GET stream")
				}
				return
			}
			c.(upstream.Listener).Listen(false)
			c.(upstream.Listener).Listen(true)
			time.Sleep(300 * time.Millisecond)
			if n := len(p.requests(http.MethodGet)); n != 1 {
				t.Fatalf("%d GETs after a 405, want 1", n)
			}
		})
	}
}

func TestHTTPIdleStreamIsReconnected(t *testing.T) {
	p := startPeer(t, fakeServer(func(w http.ResponseWriter, r *http.Request, _ *pipeline.Message) {
		n := eventNumber(r.Header.Get("Last-Event-Id")) + 1
		startSSE(w)
		writeSSE(w, "id: e_"+strconv.Itoa(n)+"\ndata: "+logMessage(n)+"\n\n")
		<-r.Context().Done() // then silence
	}))
	h := newTestHTTP(t, Config{URL: p.srv.URL, IdleTimeout: 100 * time.Millisecond})
	rec := newHTTPRecorder()
	c := openConn(t, h, rec)
	handshake(t, c, rec, "2025-11-25")
	c.(upstream.Listener).Listen(true)
	got := rec.waitFor(t, 3, func(d delivery) bool { return d.m.Method == "notifications/message" })
	for i, d := range got[:3] {
		if string(d.m.Raw) != logMessage(i+1) {
			t.Fatalf("message %d: %s", i, d.m.Raw)
		}
	}
	if gets := p.requests(http.MethodGet); gets[1].header.Get("Last-Event-Id") != "e_1" {
		t.Fatalf("the reconnect sent Last-Event-ID %q", gets[1].header.Get("Last-Event-Id"))
	}
}

func TestNewHTTPValidatesConfig(t *testing.T) {
	for _, u := range []string{"", "ftp://x/mcp", "/mcp", "http://user:pw@x/mcp", "http://x/mcp#frag", "http://%zz"} {
		if _, err := NewHTTP(Config{URL: u}); err == nil {
			t.Errorf("NewHTTP accepted URL %q", u)
		}
	}
	if _, err := NewHTTP(Config{URL: "http://x/mcp", IdleTimeout: -1}); err == nil {
		t.Error("NewHTTP accepted a negative timeout")
	}
	h, err := NewHTTP(Config{URL: "https://x.example/mcp"})
	if err != nil || h.cfg.ResponseHeaderTimeout != DefaultResponseHeaderTimeout || h.cfg.MaxInFlight != DefaultMaxInFlight ||
		h.cfg.GetStreamGrace != DefaultGetStreamGrace || h.cfg.MaxMessageSize != DefaultMaxMessageSize {
		t.Fatalf("defaults: %+v, %v", h.cfg, err)
	}
}

func TestHTTPPostStreamResumeFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		resume func(w http.ResponseWriter)
		want   string
	}{
		{"refused", func(w http.ResponseWriter) { http.Error(w, "stream replay unsupported", http.StatusBadRequest) },
			"resuming the response stream failed: 400 Bad Request: stream replay unsupported"},
		{"no progress", func(w http.ResponseWriter) { startSSE(w) },
			"resuming it made no progress"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPeer(t, fakeServer(func(w http.ResponseWriter, _ *http.Request, m *pipeline.Message) {
				if m != nil {
					startSSE(w)
					writeSSE(w, "id: p_0\nretry: 1\ndata:\n\n")
					return
				}
				tc.resume(w)
			}))
			h := newTestHTTP(t, Config{URL: p.srv.URL, VerboseErrors: true})
			rec := newHTTPRecorder()
			c := openConn(t, h, rec)
			handshake(t, c, rec, "2025-11-25")
			send(t, c, `{"jsonrpc":"2.0","id":1,"method":"tools/call"}`)
			d := rec.response(t, "1")
			// The upstream had answered 200: the client gets 200 too, with
			// the JSON-RPC error.
			if !strings.Contains(string(d.m.Error), tc.want) || upstream.GatewayStatus(d.m) != 0 {
				t.Fatalf("got %s, want an error with %q", d.m.Raw, tc.want)
			}
			if tc.name == "no progress" {
				if n := len(p.requests(http.MethodGet)); n != maxResumeAttempts {
					t.Fatalf("%d resume attempts, want %d", n, maxResumeAttempts)
				}
			}
		})
	}
}

// checkKeysOnce fails the test when a log line carries a key twice (a
// logger's With field logged again): JSON readers keep one of the two.
func checkKeysOnce(t *testing.T, line observer.LoggedEntry) {
	t.Helper()
	seen := make(map[string]bool, len(line.Context))
	for _, f := range line.Context {
		if seen[f.Key] {
			t.Errorf("log line %q carries the key %q twice: %v", line.Message, f.Key, line.Context)
		}
		seen[f.Key] = true
	}
}
