package front

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// statelessFake is a fault-injection upstream for 2026-07-28 requests:
// call decides what each Call does.
type statelessFake struct {
	call func(ctx context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error
	seen chan *upstream.StatelessRequest
}

func (f *statelessFake) Open(context.Context, upstream.Receiver) (upstream.Conn, error) {
	return nil, errors.New("sessions are not used in these tests")
}

func (f *statelessFake) Call(ctx context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
	select {
	case f.seen <- req:
	default:
	}
	return f.call(ctx, req, deliver)
}

func newStatelessServer(t *testing.T, call func(context.Context, *upstream.StatelessRequest, func(*pipeline.Message, int)) error) (*httptest.Server, *statelessFake) {
	t.Helper()
	fake := &statelessFake{call: call, seen: make(chan *upstream.StatelessRequest, 16)}
	store := NewStore(Limits{}, nil)
	srv, err := New(Config{Upstream: fake, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); store.Close("test done") })
	return ts, fake
}

const statelessMeta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`

func statelessRequest(t *testing.T, url, body string, header map[string]string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	r.Header.Set("Mcp-Protocol-Version", "2026-07-28")
	for k, v := range header {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	return r
}

func echoCall(_ context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
	deliver(pipeline.NewResult(req.Message.ID, []byte(`{"content":[]}`)), http.StatusOK)
	return nil
}

func TestStatelessValidation(t *testing.T) {
	ts, _ := newStatelessServer(t, echoCall)
	call := `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo",` + statelessMeta + `}}`
	tests := []struct {
		name   string
		body   string
		header map[string]string
		status int
		code   int
		want   string
	}{
		{"valid", call, map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "echo"}, 200, 0, `"result"`},
		{"base64 name", call, map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "=?base64?" + base64.StdEncoding.EncodeToString([]byte("echo")) + "?="}, 200, 0, `"result"`},
		{"name mismatch", call, map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "other"}, 400, codeHeaderMismatch, "Mcp-Name"},
		{"method mismatch", call, map[string]string{"Mcp-Method": "tools/list", "Mcp-Name": "echo"}, 400, codeHeaderMismatch, "Mcp-Method"},
		{"no version header, _meta only", call, map[string]string{"Mcp-Protocol-Version": "", "Mcp-Method": "tools/call"}, 400, codeHeaderMismatch, "MCP-Protocol-Version header"},
		{"header and _meta differ", strings.Replace(call, `"2026-07-28"`, `"2026-08-01"`, 1), map[string]string{"Mcp-Method": "tools/call"}, 400, codeHeaderMismatch, "does not match params._meta"},
		{"unsupported version", strings.Replace(call, `"2026-07-28"`, `"2099-01-01"`, 1), map[string]string{"Mcp-Protocol-Version": "2099-01-01", "Mcp-Method": "tools/call", "Mcp-Name": "echo"}, 400, codeUnsupportedProtocolVersion, `"supported":["2026-07-28","2025-11-25"`},
		{"no capabilities", `{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, map[string]string{"Mcp-Method": "tools/list"}, 400, pipeline.CodeInvalidParams, "clientCapabilities"},
		{"no _meta version", `{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{}}`, map[string]string{"Mcp-Method": "tools/list"}, 400, pipeline.CodeInvalidParams, "protocolVersion"},
		{"batch", "[" + call + "]", map[string]string{"Mcp-Method": "tools/call"}, 400, pipeline.CodeInvalidRequest, "not batched"},
		{"response", `{"jsonrpc":"2.0","id":3,"result":{}}`, nil, 400, pipeline.CodeInvalidRequest, "requests and notifications only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.DefaultClient.Do(statelessRequest(t, ts.URL, tt.body, tt.header))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.want) {
				t.Fatalf("got %d %s, want %d with %q", resp.StatusCode, body, tt.status, tt.want)
			}
			if tt.code != 0 && !strings.Contains(string(body), `"code":`+strconv.Itoa(tt.code)) {
				t.Errorf("want code %d in %s", tt.code, body)
			}
			if resp.Header.Get("Mcp-Session-Id") != "" {
				t.Error("a 2026-07-28 answer must not carry Mcp-Session-Id")
			}
		})
	}
}

func TestStatelessAnswers(t *testing.T) {
	list := `{"jsonrpc":"2.0","id":"r1","method":"tools/list","params":{` + statelessMeta + `}}`
	hdr := map[string]string{"Mcp-Method": "tools/list", "Mcp-Param-Region": "eu", "Mcp-Session-Id": "ignored", "Authorization": "Bearer x"}
	tests := []struct {
		name        string
		call        func(context.Context, *upstream.StatelessRequest, func(*pipeline.Message, int)) error
		status      int
		contentType string
		want        []string
	}{
		{"json", echoCall, 200, "application/json", []string{`"id":"r1","result"`}},
		{"upstream 404 passes through", func(_ context.Context, req *upstream.StatelessRequest, d func(*pipeline.Message, int)) error {
			d(pipeline.NewError(req.Message.ID, pipeline.CodeMethodNotFound, "no such method"), http.StatusNotFound)
			return nil
		}, 404, "application/json", []string{`"code":-32601`}},
		{"progress then response as SSE without ids", func(_ context.Context, req *upstream.StatelessRequest, d func(*pipeline.Message, int)) error {
			d(pipeline.NewNotification("notifications/progress", []byte(`{"progressToken":"p","progress":1}`)), 200)
			d(pipeline.NewResult(req.Message.ID, []byte(`{}`)), 200)
			return nil
		}, 200, "text/event-stream", []string{"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"", `"id":"r1","result":{}`}},
		{"legacy-only upstream", func(context.Context, *upstream.StatelessRequest, func(*pipeline.Message, int)) error {
			return upstream.ErrSessionfulOnly
		}, 400, "application/json", []string{`"code":-32601`, "initialize"}},
		{"upstream failure", func(context.Context, *upstream.StatelessRequest, func(*pipeline.Message, int)) error {
			return errors.New("upstream MCP server x: connection refused")
		}, 502, "application/json", []string{"the upstream MCP server failed this request", `"correlation_id"`, `"id":"r1"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, fake := newStatelessServer(t, tt.call)
			resp, err := http.DefaultClient.Do(statelessRequest(t, ts.URL, list, hdr))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.contentType) {
				t.Fatalf("got %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("answer lacks %q:\n%s", w, body)
				}
			}
			if strings.Contains(string(body), "id: ") {
				t.Errorf("2026-07-28 streams carry no event ids:\n%s", body)
			}
			req := <-fake.seen
			if req.Header.Get("Mcp-Param-Region") != "eu" || req.Header.Get("Mcp-Method") != "tools/list" ||
				req.Header.Get("Mcp-Session-Id") != "" || req.Header.Get("Authorization") != "" {
				t.Errorf("mirrored headers: %v", req.Header)
			}
		})
	}
}

// TestStatelessDisconnectCancels shows that a 2026 client closing its stream
// cancels the upstream call.
func TestStatelessDisconnectCancels(t *testing.T) {
	cancelled := make(chan struct{})
	started := make(chan struct{})
	ts, _ := newStatelessServer(t, func(ctx context.Context, req *upstream.StatelessRequest, d func(*pipeline.Message, int)) error {
		d(pipeline.NewNotification("notifications/progress", []byte(`{"progressToken":"p","progress":1}`)), 200)
		close(started)
		<-ctx.Done()
		close(cancelled)
		return ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	req := statelessRequest(t, ts.URL, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow",`+statelessMeta+`}}`,
		map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "slow"}).WithContext(ctx)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	if !strings.HasPrefix(line, "event: message") {
		t.Fatalf("first line %q", line)
	}
	<-started
	cancel()
	resp.Body.Close()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("closing the stream did not cancel the upstream call")
	}
}

func TestStatelessNotificationAndMethods(t *testing.T) {
	ts, _ := newStatelessServer(t, func(context.Context, *upstream.StatelessRequest, func(*pipeline.Message, int)) error { return nil })
	resp, err := http.DefaultClient.Do(statelessRequest(t, ts.URL, `{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}`,
		map[string]string{"Mcp-Method": "notifications/roots/list_changed"}))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("notification: %d", resp.StatusCode)
	}
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		r, _ := http.NewRequest(method, ts.URL, nil)
		r.Header.Set("Accept", "text/event-stream")
		r.Header.Set("Mcp-Protocol-Version", "2026-07-28")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Errorf("%s from a 2026 client: %d Allow=%q", method, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
}

func TestDiscoverSharedVersions(t *testing.T) {
	ts, _ := newStatelessServer(t, func(_ context.Context, req *upstream.StatelessRequest, d func(*pipeline.Message, int)) error {
		d(pipeline.NewResult(req.Message.ID, []byte(`{"supportedVersions":["2027-01-01","2026-07-28","2025-11-25"],"capabilities":{}}`)), 200)
		return nil
	})
	resp, err := http.DefaultClient.Do(statelessRequest(t, ts.URL,
		`{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{`+statelessMeta+`}}`, map[string]string{"Mcp-Method": "server/discover"}))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"supportedVersions":["2026-07-28","2025-11-25"]`) {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
}

// TestStatelessBusyNamesNoUpstream: a busy upstream's 503 says only that
// it is busy, even when the error also carries other upstreams' failures
// (a federation joins its servers' errors) that name their addresses.
func TestStatelessBusyNamesNoUpstream(t *testing.T) {
	ts, _ := newStatelessServer(t, func(context.Context, *upstream.StatelessRequest, func(*pipeline.Message, int)) error {
		return errors.Join(&upstream.BusyError{RetryAfter: time.Second, Err: errors.New("pool full")},
			errors.New(`Post "http://10.9.8.7:3001/mcp": dial tcp 10.9.8.7:3001: connect: connection refused`))
	})
	call := `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo",` + statelessMeta + `}}`
	resp, err := http.DefaultClient.Do(statelessRequest(t, ts.URL, call, map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "echo"}))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "pool full") || strings.Contains(string(body), "10.9.8.7") {
		t.Fatalf("got %d %s; want 503 saying the pool is full and naming no upstream address", resp.StatusCode, body)
	}
}
