package remote

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// hsMeta is the `_meta` member every 2026-07-28 request carries.
const hsMeta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`

// hsHeader is the client's mirrored headers for a 2026-07-28 message.
func hsHeader(method, name string) http.Header {
	h := http.Header{}
	h.Set("MCP-Protocol-Version", "2026-07-28")
	h.Set("Mcp-Method", method)
	if name != "" {
		h.Set("Mcp-Name", name)
	}
	return h
}

// hsRequest builds a StatelessRequest whose Mcp-Method and Mcp-Name mirror
// the body.
func hsRequest(t *testing.T, raw, name string) *upstream.StatelessRequest {
	t.Helper()
	m := mustParse(t, raw)
	return &upstream.StatelessRequest{Message: m, Header: hsHeader(m.Method, name)}
}

// hsDelivery is one call of deliver.
type hsDelivery struct {
	m      *pipeline.Message
	status int
}

func (d hsDelivery) String() string { return strconv.Itoa(d.status) + " " + string(d.m.Raw) }

// hsRecorder keeps what Call delivers; it may be read while Call runs.
type hsRecorder struct {
	mu     sync.Mutex
	got    []hsDelivery
	wake   chan struct{}
	closed atomic.Bool // Call returned: a delivery now is a bug
	late   atomic.Int32
}

func newHSRecorder() *hsRecorder { return &hsRecorder{wake: make(chan struct{}, 1)} }

func (r *hsRecorder) deliver(m *pipeline.Message, status int) {
	if r.closed.Load() {
		r.late.Add(1)
	}
	r.mu.Lock()
	r.got = append(r.got, hsDelivery{m, status})
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *hsRecorder) all() []hsDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// waitFor waits until at least n messages were delivered.
func (r *hsRecorder) waitFor(t *testing.T, n int) []hsDelivery {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if got := r.all(); len(got) >= n {
			return got
		}
		select {
		case <-r.wake:
		case <-deadline:
			t.Fatalf("waited 10s for %d deliveries, have %v", n, r.all())
		}
	}
}

// hsCall runs Call to its end (within 10s).
func hsCall(t *testing.T, h *HTTP, req *upstream.StatelessRequest) ([]hsDelivery, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec := newHSRecorder()
	err := h.Call(ctx, req, rec.deliver)
	rec.closed.Store(true)
	if ctx.Err() != nil {
		t.Fatalf("Call did not end within 10s: %v", err)
	}
	return rec.all(), err
}

// hsStart runs Call on a goroutine; the returned channel yields its result.
func hsStart(ctx context.Context, h *HTTP, req *upstream.StatelessRequest, rec *hsRecorder) <-chan error {
	done := make(chan error, 1)
	go func() {
		err := h.Call(ctx, req, rec.deliver)
		rec.closed.Store(true)
		done <- err
	}()
	return done
}

// hsAwait waits at most d for Call's result.
func hsAwait(t *testing.T, done <-chan error, d time.Duration) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("Call did not return within %s", d)
		return nil
	}
}

// hsFake is a small 2026-07-28 server for fault injection: every POST's
// message goes to serve, parsed.
func hsFake(serve func(w http.ResponseWriter, r *http.Request, m *pipeline.Message)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m, err := pipeline.Parse(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		serve(w, r, m)
	})
}

func writeJSONMessage(w http.ResponseWriter, status int, m *pipeline.Message) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(m.Raw)
}

// hsGoSDKServer is newGoSDKServer plus a tool that runs until cancelled.
type hsGoSDKServer struct {
	*mcp.Server
	started   chan struct{}
	cancelled chan struct{}
	inflight  atomic.Int32 // POSTs being served
}

func startHSGoSDKPeer(t *testing.T, opts mcp.StreamableHTTPOptions) (*peer, *hsGoSDKServer) {
	t.Helper()
	s := &hsGoSDKServer{Server: newGoSDKServer(), started: make(chan struct{}, 1), cancelled: make(chan struct{}, 1)}
	mcp.AddTool(s.Server, &mcp.Tool{Name: "wait"}, func(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		s.started <- struct{}{}
		<-ctx.Done()
		s.cancelled <- struct{}{}
		return nil, nil, ctx.Err()
	})
	opts.Stateless = true
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.Server }, &opts)
	p := startPeer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.inflight.Add(1)
		defer s.inflight.Add(-1)
		handler.ServeHTTP(w, r)
	}))
	return p, s
}

func errorCode(t *testing.T, m *pipeline.Message) int {
	t.Helper()
	var e struct {
		Code int `json:"code"`
	}
	if m == nil || json.Unmarshal(m.Error, &e) != nil {
		t.Fatalf("not an error response: %v", m)
	}
	return e.Code
}

func TestHTTPCallGoSDK(t *testing.T) {
	const (
		discover = `{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{` + hsMeta + `}}`
		echo     = `{"jsonrpc":"2.0","id":"e-2","method":"tools/call","params":{"name":"echo","arguments":{"text":"hello 2026"},` + hsMeta + `}}`
		progress = `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"progress","arguments":{"n":3},` +
			`"_meta":{"progressToken":"tok","io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`
		unknown      = `{"jsonrpc":"2.0","id":5,"method":"nope/x","params":{` + hsMeta + `}}`
		notification = `{"jsonrpc":"2.0","method":"notifications/initialized","params":{` + hsMeta + `}}`
	)
	for _, jsonMode := range []bool{false, true} {
		t.Run("JSONResponse="+strconv.FormatBool(jsonMode), func(t *testing.T) {
			p, _ := startHSGoSDKPeer(t, mcp.StreamableHTTPOptions{JSONResponse: jsonMode})
			h := newTestHTTP(t, Config{URL: p.srv.URL + "/mcp"})
			for _, tc := range []struct {
				name  string
				req   *upstream.StatelessRequest
				check func(t *testing.T, got []hsDelivery)
			}{
				{"server/discover lists the versions", hsRequest(t, discover, ""), func(t *testing.T, got []hsDelivery) {
					var r struct {
						SupportedVersions []string `json:"supportedVersions"`
					}
					if len(got) != 1 || got[0].status != 200 || string(got[0].m.ID) != "1" ||
						json.Unmarshal(got[0].m.Result, &r) != nil || !slices.Contains(r.SupportedVersions, "2026-07-28") {
						t.Fatalf("got %v", got)
					}
				}},
				{"tools/call result", hsRequest(t, echo, "echo"), func(t *testing.T, got []hsDelivery) {
					if len(got) != 1 || got[0].status != 200 || string(got[0].m.ID) != `"e-2"` || !strings.Contains(string(got[0].m.Result), "hello 2026") {
						t.Fatalf("got %v", got)
					}
				}},
				{"progress, then the result", hsRequest(t, progress, "progress"), func(t *testing.T, got []hsDelivery) {
					var seq []string
					for _, d := range got {
						if d.status != 200 {
							t.Errorf("status %d for %s", d.status, d.m.Raw)
						}
						var p struct {
							Progress float64 `json:"progress"`
						}
						_ = json.Unmarshal(d.m.Params, &p)
						seq = append(seq, d.m.Kind.String()+":"+strconv.FormatFloat(p.Progress, 'f', -1, 64))
					}
					want := []string{"notification:1", "notification:2", "notification:3", "response:0"}
					if jsonMode { // a JSON answer has no room for notifications
						want = want[3:]
					}
					if !slices.Equal(seq, want) || string(got[len(got)-1].m.ID) != "3" {
						t.Fatalf("got %v, want %v", got, want)
					}
				}},
				{"the server's 400 for a mismatched Mcp-Method passes through",
					&upstream.StatelessRequest{Message: mustParse(t, echo), Header: hsHeader("tools/list", "echo")},
					func(t *testing.T, got []hsDelivery) {
						if len(got) != 1 || got[0].status != 400 || string(got[0].m.ID) != `"e-2"` || errorCode(t, got[0].m) != -32020 {
							t.Fatalf("got %v", got)
						}
					}},
				{"the server's 404 for an unknown method passes through", hsRequest(t, unknown, ""), func(t *testing.T, got []hsDelivery) {
					if len(got) != 1 || got[0].status != 404 || string(got[0].m.ID) != "5" || errorCode(t, got[0].m) != -32601 {
						t.Fatalf("got %v", got)
					}
				}},
				{"a notification is accepted", hsRequest(t, notification, ""), func(t *testing.T, got []hsDelivery) {
					if len(got) != 0 {
						t.Fatalf("delivered %v for a notification", got)
					}
				}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					before := len(p.requests(""))
					got, err := hsCall(t, h, tc.req)
					if err != nil {
						t.Fatalf("Call: %v", err)
					}
					tc.check(t, got)
					reqs := p.requests("")[before:]
					if len(reqs) != 1 {
						t.Fatalf("the server saw %d requests, want 1", len(reqs))
					}
					r := reqs[0]
					if r.method != http.MethodPost || r.body != string(tc.req.Message.Raw) {
						t.Errorf("%s %s, want the message POSTed byte for byte", r.method, r.body)
					}
					if r.header.Get("Mcp-Protocol-Version") != "2026-07-28" || r.header.Get("Mcp-Method") != tc.req.Header.Get("Mcp-Method") ||
						r.header.Get("Mcp-Name") != tc.req.Header.Get("Mcp-Name") {
						t.Errorf("mirrored headers not forwarded: %v", r.header)
					}
					if _, ok := r.header["Mcp-Session-Id"]; ok {
						t.Errorf("a session id was sent: %v", r.header)
					}
				})
			}
		})
	}
}

func TestHTTPCallGoSDKCancellation(t *testing.T) {
	p, s := startHSGoSDKPeer(t, mcp.StreamableHTTPOptions{PropagateRequestCancellation: true})
	h := newTestHTTP(t, Config{URL: p.srv.URL})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := newHSRecorder()
	done := hsStart(ctx, h, hsRequest(t, `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"wait","arguments":{},`+hsMeta+`}}`, "wait"), rec)
	select {
	case <-s.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the tool did not start")
	}
	cancel()
	if err := hsAwait(t, done, time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("Call returned %v, want context.Canceled", err)
	}
	select {
	case <-s.cancelled:
	case <-time.After(time.Second):
		t.Fatal("the server's handler was not cancelled within 1s")
	}
	if got := rec.all(); len(got) != 0 || rec.late.Load() != 0 {
		t.Fatalf("delivered %v", got)
	}
	eventually(t, "the server ends the request", func() bool { return s.inflight.Load() == 0 })
}

func TestHTTPCallGoSDKListen(t *testing.T) {
	p, s := startHSGoSDKPeer(t, mcp.StreamableHTTPOptions{})
	h := newTestHTTP(t, Config{URL: p.srv.URL})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := newHSRecorder()
	done := hsStart(ctx, h, hsRequest(t, `{"jsonrpc":"2.0","id":"sub-1","method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true},`+hsMeta+`}}`, ""), rec)

	ack := rec.waitFor(t, 1)[0]
	if ack.m.Method != "notifications/subscriptions/acknowledged" || ack.status != 200 ||
		!strings.Contains(string(ack.m.Params), `"io.modelcontextprotocol/subscriptionId":"sub-1"`) {
		t.Fatalf("first message %v, want the acknowledgement", ack)
	}
	mcp.AddTool(s.Server, &mcp.Tool{Name: "late"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{}, nil, nil
	})
	if d := rec.waitFor(t, 2)[1]; d.m.Method != "notifications/tools/list_changed" || d.status != 200 {
		t.Fatalf("second message %v, want tools/list_changed", d)
	}
	cancel()
	if err := hsAwait(t, done, time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("Call returned %v, want context.Canceled", err)
	}
	eventually(t, "the server ends the listen stream", func() bool { return s.inflight.Load() == 0 })
	if rec.late.Load() != 0 {
		t.Fatal("delivered after Call returned")
	}
}

func TestHTTPCallHeaders(t *testing.T) {
	p := startPeer(t, hsFake(func(w http.ResponseWriter, _ *http.Request, m *pipeline.Message) {
		if !m.IsRequest() {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		writeJSONMessage(w, http.StatusOK, pipeline.NewResult(m.ID, nil))
	}))
	type clientKey struct{}
	var calls atomic.Int32
	h := newTestHTTP(t, Config{URL: p.srv.URL, Headers: func(ctx context.Context) http.Header {
		calls.Add(1)
		return http.Header{
			"X-Api-Key":     {"upstream-key"},
			"X-Client":      {ctx.Value(clientKey{}).(string)},
			"Authorization": {"Bearer upstream-token"},
			// Neither the transport's headers nor the mirrored ones can be configured.
			"mcp-session-id": {"forged"}, "Last-Event-ID": {"forged"}, "Accept": {"text/html"},
			"Mcp-Protocol-Version": {"1999-01-01"}, "Mcp-Method": {"forged"}, "Mcp-Param-Forged": {"x"},
		}
	}})
	client := hsHeader("tools/call", "echo")
	client.Set("Mcp-Param-Region", "eu-west-1")
	client.Set("Mcp-Param-Note", "=?base64?aMOpbGxv?=")
	// Not mirrored: none of these may reach the upstream.
	client.Set("Authorization", "Bearer client-token")
	client.Set("Cookie", "c=1")
	client.Set("Mcp-Session-Id", "client-session")
	client.Set("Last-Event-ID", "ev-1")
	client.Set("X-Forwarded-For", "192.0.2.1")

	bodies := []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"region":"eu-west-1"},` + hsMeta + `}}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo",` + "\n  " + `"arguments":{"region":"eu-west-1"},` + hsMeta + `}}`,
		`{"jsonrpc":"2.0","method":"notifications/tools/call","params":{"name":"echo",` + hsMeta + `}}`,
	}
	for i, body := range bodies {
		ctx := context.WithValue(context.Background(), clientKey{}, "client-"+strconv.Itoa(i))
		rec := newHSRecorder()
		if err := h.Call(ctx, &upstream.StatelessRequest{Message: mustParse(t, body), Header: client}, rec.deliver); err != nil {
			t.Fatalf("Call %d: %v", i, err)
		}
	}
	if calls.Load() != int32(len(bodies)) {
		t.Fatalf("Headers evaluated %d times, want once per call (%d)", calls.Load(), len(bodies))
	}
	reqs := p.requests("")
	if len(reqs) != len(bodies) {
		t.Fatalf("%d requests, want %d", len(reqs), len(bodies))
	}
	for i, r := range reqs {
		if r.body != bodies[i] {
			t.Errorf("body %q, want %q byte for byte", r.body, bodies[i])
		}
		if r.host != p.srv.Listener.Addr().String() {
			t.Errorf("Host %q, want the upstream's", r.host)
		}
		want := http.Header{
			"Content-Type":         {"application/json"},
			"Accept":               {"application/json, text/event-stream"},
			"Mcp-Protocol-Version": {"2026-07-28"},
			"Mcp-Method":           {"tools/call"},
			"Mcp-Name":             {"echo"},
			"Mcp-Param-Region":     {"eu-west-1"},
			"Mcp-Param-Note":       {"=?base64?aMOpbGxv?="},
			"X-Api-Key":            {"upstream-key"},
			"X-Client":             {"client-" + strconv.Itoa(i)},
			"Authorization":        {"Bearer upstream-token"},
		}
		for k, v := range want {
			if !slices.Equal(r.header[k], v) {
				t.Errorf("request %d: %s = %q, want %q", i, k, r.header[k], v)
			}
		}
		for k := range r.header {
			switch k {
			case "User-Agent", "Content-Length", "Accept-Encoding":
			default:
				if _, ok := want[k]; !ok {
					t.Errorf("request %d carried %s: %q", i, k, r.header[k])
				}
			}
		}
	}
}

func TestHTTPCallFailures(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String() + "/mcp"
	dead.Close()

	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	p := startPeer(t, hsFake(func(w http.ResponseWriter, r *http.Request, m *pipeline.Message) {
		switch m.Method {
		case "slow":
			select {
			case <-r.Context().Done():
			case <-release:
			}
		case "bad-gateway":
			http.Error(w, "upstream of the upstream is down", http.StatusBadGateway)
		case "text-400":
			http.Error(w, "Bad Request: no", http.StatusBadRequest)
		case "redirect":
			http.Redirect(w, r, "/mcp/", http.StatusTemporaryRedirect)
		case "accepted":
			w.WriteHeader(http.StatusAccepted)
		case "cut":
			startSSE(w)
			writeSSE(w, "data: "+logMessage(1)+"\n\n")
		case "huge":
			writeJSONMessage(w, http.StatusOK, pipeline.NewResult(m.ID, []byte(`{"pad":"`+strings.Repeat("x", 2048)+`"}`)))
		case "huge-event":
			startSSE(w)
			writeSSE(w, "data: "+string(pipeline.NewResult(m.ID, []byte(`{"pad":"`+strings.Repeat("x", 2048)+`"}`)).Raw)+"\n\n")
		case "text":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "hello")
		case "other-id":
			writeJSONMessage(w, http.StatusOK, pipeline.NewResult([]byte(`"not-mine"`), nil))
		case "not-jsonrpc":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"hello":1}`)
		case "ambiguous": // a result a Go client reads otherwise than a to_client rule
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":"req-1","result":{"content":[],"Content":[{"type":"text","text":"x"}]}}`)
		}
	}))

	// status is what deliver gets: 502/504 when the upstream gave no usable
	// answer, 200 when it had answered 2xx and failed afterwards.
	for _, tc := range []struct {
		name, url, method string
		status, code      int
		want              []string
	}{
		{"no headers in time", p.srv.URL, "slow", 504, pipeline.CodeRequestTimeout, []string{"no response headers within 100ms"}},
		{"connection refused", deadURL, "x", 502, pipeline.CodeInternalError, []string{"connection refused"}},
		{"5xx", p.srv.URL, "bad-gateway", 502, pipeline.CodeInternalError, []string{"502 Bad Gateway", "upstream of the upstream is down"}},
		{"redirect", p.srv.URL, "redirect", 502, pipeline.CodeInternalError, []string{"307", "/mcp/"}},
		{"202 to a request", p.srv.URL, "accepted", 200, pipeline.CodeInternalError, []string{"202 Accepted"}},
		{"stream ends without response", p.srv.URL, "cut", 200, pipeline.CodeInternalError, []string{"ended before the response"}},
		{"JSON response too large", p.srv.URL, "huge", 200, pipeline.CodeInternalError, []string{"larger than max_message_size"}},
		{"SSE response too large", p.srv.URL, "huge-event", 200, pipeline.CodeInternalError, []string{"exceeded max_message_size"}},
		{"unexpected Content-Type", p.srv.URL, "text", 200, pipeline.CodeInternalError, []string{"text/plain"}},
		{"JSON answer to another id", p.srv.URL, "other-id", 200, pipeline.CodeInternalError, []string{"does not answer request"}},
		{"JSON that is not JSON-RPC", p.srv.URL, "not-jsonrpc", 200, pipeline.CodeInternalError, []string{"not JSON-RPC"}},
		{"JSON whose members parsers read differently", p.srv.URL, "ambiguous", 200, pipeline.CodeInternalError,
			[]string{"not JSON-RPC", `duplicate member "content" (also "Content") in /result`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			timeout := 10 * time.Second
			if tc.method == "slow" {
				timeout = 100 * time.Millisecond
			}
			// Verbose: the detail checked here (the default message's secrecy
			// is TestHTTPFailuresAnswerTheRequest's).
			h := newTestHTTP(t, Config{URL: tc.url, ResponseHeaderTimeout: timeout, MaxMessageSize: 1024, VerboseErrors: true})
			got, err := hsCall(t, h, hsRequest(t, `{"jsonrpc":"2.0","id":"req-1","method":"`+tc.method+`","params":{`+hsMeta+`}}`, ""))
			if err != nil {
				t.Fatalf("Call returned %v, want nil and a made-up error response", err)
			}
			if len(got) == 0 {
				t.Fatal("nothing delivered")
			}
			if tc.method == "cut" && (len(got) != 2 || string(got[0].m.Raw) != logMessage(1)) {
				t.Fatalf("got %v, want the notification, then the error", got)
			}
			d := got[len(got)-1]
			var e struct {
				Code    int                   `json:"code"`
				Message string                `json:"message"`
				Data    upstream.GatewayError `json:"data"`
			}
			if err := json.Unmarshal(d.m.Error, &e); err != nil || string(d.m.ID) != `"req-1"` || !d.m.IsResponse() {
				t.Fatalf("not an error response for req-1: %v (%v)", d, err)
			}
			for _, w := range append(tc.want, h.URL()) {
				if !strings.Contains(e.Message, w) {
					t.Errorf("message %q lacks %q", e.Message, w)
				}
			}
			if !strings.HasPrefix(e.Message, "upstream MCP server "+h.URL()+": ") {
				t.Errorf("message %q does not name the upstream first", e.Message)
			}
			wantGateway := tc.status
			if wantGateway == 200 {
				wantGateway = 0
			}
			if d.status != tc.status || e.Code != tc.code || len(e.Data.CorrelationID) != 24 || upstream.GatewayStatus(d.m) != wantGateway {
				t.Errorf("status %d, code %d, data %+v, GatewayStatus %d; want %d, %d", d.status, e.Code, e.Data, upstream.GatewayStatus(d.m), tc.status, tc.code)
			}
		})
	}
}

func TestHTTPCallPassesServerErrorsThrough(t *testing.T) {
	p := startPeer(t, hsFake(func(w http.ResponseWriter, r *http.Request, m *pipeline.Message) {
		status, _ := strconv.Atoi(r.Header.Get("Mcp-Param-Status"))
		var answer *pipeline.Message
		switch m.Method {
		case "mismatch":
			answer = pipeline.NewError(m.ID, -32020, "header mismatch")
		case "version":
			raw := `{"jsonrpc":"2.0","id":` + string(m.ID) + `,"error":{"code":-32022,"message":"unsupported","data":{"supported":["2026-07-28"],"requested":"2099-01-01"}}}`
			answer = mustParse(t, raw)
		case "unknown":
			answer = pipeline.NewError(m.ID, -32601, "method not found")
		case "idless":
			answer = pipeline.NewError(nil, -32600, "could not read the request")
		}
		writeJSONMessage(w, status, answer)
	}))
	h := newTestHTTP(t, Config{URL: p.srv.URL})
	for _, tc := range []struct {
		method       string
		status, code int
		notification bool
	}{
		{"mismatch", 400, -32020, false},
		{"version", 400, -32022, false},
		{"unknown", 404, -32601, false},
		{"idless", 400, -32600, false},
		{"unknown", 500, -32601, false},
		{"idless", 400, -32600, true},
	} {
		t.Run(tc.method+" "+strconv.Itoa(tc.status)+" notification="+strconv.FormatBool(tc.notification), func(t *testing.T) {
			raw := `{"jsonrpc":"2.0","id":42,"method":"` + tc.method + `","params":{` + hsMeta + `}}`
			if tc.notification {
				raw = `{"jsonrpc":"2.0","method":"` + tc.method + `","params":{` + hsMeta + `}}`
			}
			req := hsRequest(t, raw, "")
			req.Header.Set("Mcp-Param-Status", strconv.Itoa(tc.status)) // the fake answers with it
			got, err := hsCall(t, h, req)
			if err != nil || len(got) != 1 {
				t.Fatalf("Call: %v, delivered %v", err, got)
			}
			if got[0].status != tc.status || errorCode(t, got[0].m) != tc.code || upstream.GatewayStatus(got[0].m) != 0 {
				t.Fatalf("got %v, want the server's %d %d as is", got[0], tc.status, tc.code)
			}
		})
	}
}

func TestHTTPCallNotifications(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	p := startPeer(t, hsFake(func(w http.ResponseWriter, _ *http.Request, m *pipeline.Message) {
		switch m.Method {
		case "notifications/refused":
			http.Error(w, "no thanks", http.StatusBadRequest)
		case "notifications/streamed": // odd, but must not hang or deliver
			startSSE(w)
			writeSSE(w, "data: "+logMessage(1)+"\n\n")
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	for _, tc := range []struct {
		name, url, method string
		want              string // in the error; "" for none
	}{
		{"202", p.srv.URL, "notifications/initialized", ""},
		{"SSE answer", p.srv.URL, "notifications/streamed", ""},
		{"connection refused", deadURL, "notifications/initialized", "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHTTP(t, Config{URL: tc.url})
			got, err := hsCall(t, h, hsRequest(t, `{"jsonrpc":"2.0","method":"`+tc.method+`","params":{`+hsMeta+`}}`, ""))
			if len(got) != 0 {
				t.Fatalf("delivered %v for a notification", got)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Call: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "upstream MCP server "+h.URL()+": ")):
				t.Fatalf("Call: %v, want an error naming the upstream and %q", err, tc.want)
			}
		})
	}
}

// TestHTTPCallLegacyOnly: a bare 400, 404 or 405 (no JSON-RPC body) is how a
// server of the 2025 revisions answers a stateless request; Call says so
// with ErrSessionfulOnly, and the client is told to fall back to initialize.
func TestHTTPCallLegacyOnly(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "Bad Request: no session id", status)
			}))
			defer srv.Close()
			h := newTestHTTP(t, Config{URL: srv.URL})
			for _, body := range []string{
				`{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{` + hsMeta + `}}`,
				`{"jsonrpc":"2.0","method":"notifications/initialized","params":{` + hsMeta + `}}`,
			} {
				got, err := hsCall(t, h, hsRequest(t, body, ""))
				if !errors.Is(err, upstream.ErrSessionfulOnly) || len(got) != 0 {
					t.Fatalf("got %v and %v, want ErrSessionfulOnly and nothing delivered", err, got)
				}
			}
		})
	}
}

func TestHTTPCallStreams(t *testing.T) {
	progress := func(n int) string {
		return `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t","progress":` + strconv.Itoa(n) + `}}`
	}
	const (
		result    = `{"jsonrpc":"2.0","id":7,"result":{"content":[]}}`
		ack       = `{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":7}}}`
		cancelled = `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"shutting down"}}`
	)
	p := startPeer(t, hsFake(func(w http.ResponseWriter, r *http.Request, m *pipeline.Message) {
		startSSE(w)
		switch m.Method {
		case "tools/call":
			writeSSE(w, ": keep-alive\n\n")
			writeSSE(w, "event: message\ndata: "+progress(1)+"\n\n")
			// Things a 2026 server must not send here: dropped.
			writeSSE(w, "data: {\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"sampling/createMessage\",\"params\":{}}\n\n")
			writeSSE(w, "data: {\"jsonrpc\":\"2.0\",\"id\":8,\"result\":{}}\n\n")
			writeSSE(w, "data: "+logMessage(1)+strings.Repeat(" ", 2048)+"\n\n") // too large: skipped
			writeSSE(w, "event: other\ndata: "+progress(99)+"\n\n")              // not a message event
			writeSSE(w, "data: not json\n\n")
			writeSSE(w, "data: "+progress(2)+"\r\n\r\n")
			writeSSE(w, "data: "+result+"\n\n")
			writeSSE(w, "data: "+progress(3)+"\n\n") // after the response: not delivered
			<-r.Context().Done()                     // holds the stream: the call must still end
		case "subscriptions/listen": // ended by the server with notifications/cancelled
			writeSSE(w, "data: "+ack+"\n\n")
			writeSSE(w, "data: "+cancelled+"\n\n")
		case "subscriptions/listen-result": // ended by the server with a result
			writeSSE(w, "data: "+ack+"\n\n")
			writeSSE(w, "data: "+result+"\n\n")
		}
	}))
	h := newTestHTTP(t, Config{URL: p.srv.URL, MaxMessageSize: 1024})
	for _, tc := range []struct {
		method string
		want   []string
	}{
		{"tools/call", []string{progress(1), progress(2), result}},
		{"subscriptions/listen", []string{ack, cancelled}},
		{"subscriptions/listen-result", []string{ack, result}},
	} {
		t.Run(tc.method, func(t *testing.T) {
			got, err := hsCall(t, h, hsRequest(t, `{"jsonrpc":"2.0","id":7,"method":"`+tc.method+`","params":{`+hsMeta+`}}`, ""))
			if err != nil {
				t.Fatalf("Call: %v", err)
			}
			var raws []string
			for _, d := range got {
				raws = append(raws, string(d.m.Raw))
				if d.status != 200 {
					t.Errorf("status %d for %s", d.status, d.m.Raw)
				}
			}
			if !slices.Equal(raws, tc.want) {
				t.Fatalf("delivered\n%q\nwant\n%q", raws, tc.want)
			}
		})
	}
}

func TestHTTPCallCancellation(t *testing.T) {
	hold := func(w http.ResponseWriter, r *http.Request, n int) {
		startSSE(w)
		for i := 1; i <= n; i++ {
			writeSSE(w, "data: "+logMessage(i)+"\n\n")
		}
		<-r.Context().Done()
	}
	serverSaw := make(chan string, 4)
	p := startPeer(t, hsFake(func(w http.ResponseWriter, r *http.Request, m *pipeline.Message) {
		defer func() { serverSaw <- m.Method }()
		switch m.Method {
		case "before-headers":
			<-r.Context().Done()
		case "mid-stream":
			hold(w, r, 1)
		case "subscriptions/listen":
			hold(w, r, 2)
		case "json":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	}))
	h := newTestHTTP(t, Config{URL: p.srv.URL})
	for _, tc := range []struct {
		method string
		n      int // messages delivered before the cancellation
	}{
		{"before-headers", 0},
		{"json", 0},
		{"mid-stream", 1},
		{"subscriptions/listen", 2},
	} {
		t.Run(tc.method, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rec := newHSRecorder()
			before := len(p.requests(""))
			done := hsStart(ctx, h, hsRequest(t, `{"jsonrpc":"2.0","id":1,"method":"`+tc.method+`","params":{`+hsMeta+`}}`, ""), rec)
			if tc.n > 0 {
				rec.waitFor(t, tc.n)
			} else {
				eventually(t, "the request reaches the server", func() bool { return len(p.requests("")) > before })
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			if err := hsAwait(t, done, time.Second); !errors.Is(err, context.Canceled) {
				t.Fatalf("Call returned %v, want context.Canceled", err)
			}
			select {
			case m := <-serverSaw:
				if m != tc.method {
					t.Fatalf("the server ended %s", m)
				}
			case <-time.After(time.Second):
				t.Fatal("the upstream request was not aborted within 1s")
			}
			got := rec.all()
			if len(got) != tc.n || rec.late.Load() != 0 {
				t.Fatalf("delivered %v (late %d), want %d messages", got, rec.late.Load(), tc.n)
			}
			for i, d := range got {
				if string(d.m.Raw) != logMessage(i+1) || d.status != 200 {
					t.Fatalf("delivery %d: %v", i, d)
				}
			}
		})
	}
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		before := len(p.requests(""))
		err := h.Call(ctx, hsRequest(t, `{"jsonrpc":"2.0","id":1,"method":"json","params":{`+hsMeta+`}}`, ""), newHSRecorder().deliver)
		if !errors.Is(err, context.Canceled) || len(p.requests("")) != before {
			t.Fatalf("Call: %v, %d requests sent", err, len(p.requests(""))-before)
		}
	})
}

func TestHTTPCallReusesConnections(t *testing.T) {
	fake := startPeer(t, hsFake(func(w http.ResponseWriter, _ *http.Request, m *pipeline.Message) {
		writeJSONMessage(w, http.StatusOK, pipeline.NewResult(m.ID, nil))
	}))
	sdk, _ := startHSGoSDKPeer(t, mcp.StreamableHTTPOptions{})
	for _, tc := range []struct {
		name string
		p    *peer
	}{{"JSON answers", fake}, {"SSE answers from go-sdk", sdk}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHTTP(t, Config{URL: tc.p.srv.URL})
			for i := range 20 {
				got, err := hsCall(t, h, hsRequest(t, `{"jsonrpc":"2.0","id":`+strconv.Itoa(i)+
					`,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"},`+hsMeta+`}}`, "echo"))
				if err != nil || len(got) != 1 || got[0].m.Error != nil {
					t.Fatalf("call %d: %v %v", i, err, got)
				}
			}
			if n := tc.p.newConns.Load(); n > 3 {
				t.Fatalf("20 sequential calls opened %d connections", n)
			}
		})
	}
}
