package caddytest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// tracedUpstream is a stateless go-sdk server behind the gateway that
// keeps what reached it: each POST's body and traceparent header, and the
// _meta.traceparent each tool call carried.
type tracedUpstream struct {
	mu      sync.Mutex
	bodies  []string
	headers []string            // traceparent headers, one per POST
	metas   map[string][]string // tool name → _meta.traceparent of its calls
}

func newTracedUpstream(t *testing.T) (*tracedUpstream, *httptest.Server) {
	u := &tracedUpstream{metas: make(map[string][]string)}
	s := mcp.NewServer(&mcp.Implementation{Name: "traced", Version: "1"}, nil)
	for _, name := range []string{"echo", "slow", "forbidden", "fails"} {
		mcp.AddTool(s, &mcp.Tool{Name: name}, func(_ context.Context, req *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
			tp, _ := req.Params.Meta["traceparent"].(string)
			u.mu.Lock()
			u.metas[name] = append(u.metas[name], tp)
			u.mu.Unlock()
			return &mcp.CallToolResult{IsError: name == "fails", Content: []mcp.Content{&mcp.TextContent{Text: name + " answered"}}}, nil, nil
		})
	}
	next := statelessHandler(s)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if r.Method == http.MethodPost {
			u.mu.Lock()
			u.bodies = append(u.bodies, string(body))
			u.headers = append(u.headers, r.Header.Get("Traceparent"))
			u.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return u, srv
}

// meta is the _meta.traceparent of the calls of tool name that reached u.
func (u *tracedUpstream) meta(name string) []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.metas[name]...)
}

// postWith is the body and traceparent header of the last POST that
// reached u with substr in its body.
func (u *tracedUpstream) postWith(substr string) (body, traceparent string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for i := len(u.bodies) - 1; i >= 0; i-- {
		if strings.Contains(u.bodies[i], substr) {
			return u.bodies[i], u.headers[i]
		}
	}
	return "", ""
}

// tracingSite serves /mcp traced (Caddy's tracing, then mcp_proxy with a
// hold rule, a block rule and trace_arguments) and /plain untraced, both
// in front of upstreamURL.
func tracingSite(upstreamURL string) string {
	return fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	route /mcp {
		tracing
		mcp_proxy {
			name traced
			http %[1]s
			intercept gate {
				tool slow
				pause 1m
			}
			intercept deny {
				tool forbidden
				block "not here"
			}
			trace_arguments
		}
	}
	route /plain {
		mcp_proxy {
			name plain
			http %[1]s
		}
	}
}
`, caddyfileQuote(upstreamURL))
}

// TestTracing: a go-sdk client's tools/call through Caddy with tracing
// gives, at a real OTLP receiver fed by Caddy's own exporter, a SERVER span
// named by the MCP conventions in the client's trace (its _meta
// traceparent), linked to Caddy's HTTP span, and a CLIENT span for the
// exchange with the upstream, whose go-sdk server receives the exchange's
// trace context in _meta and in a traceparent header. A held call and a
// blocked one carry their events; an endpoint without tracing forwards the
// client's bytes unchanged.
func TestTracing(t *testing.T) {
	rc := startOTLPReceiver(t)
	up, upSrv := newTracedUpstream(t)
	base := startProxy(t, tracingSite(upSrv.URL), goroutinesChecked)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs := connectGo(ctx, t, base+"/mcp", "", nil)
	if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("negotiated %q, want 2026-07-28", v)
	}

	const clientTrace, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hi"},
		Meta: mcp.Meta{"traceparent": "00-" + clientTrace + "-" + clientSpan + "-01"}})
	if err != nil || firstText(res) != "echo answered" {
		t.Fatalf("echo: %v %+v", err, res)
	}
	server := rc.await(t, "tools/call echo (SERVER)", func(s *tracepb.Span) bool {
		return s.Name == "tools/call echo" && s.Kind == tracepb.Span_SPAN_KIND_SERVER
	})
	checkServerSpan(t, rc, server, clientTrace, clientSpan)
	client := rc.await(t, "tools/call echo (CLIENT)", func(s *tracepb.Span) bool {
		return s.Name == "tools/call echo" && s.Kind == tracepb.Span_SPAN_KIND_CLIENT
	})
	checkClientSpan(t, client, server, upSrv.URL)
	want := "00-" + clientTrace + "-" + hexID(client.SpanId) + "-01"
	if got := up.meta("echo"); len(got) != 1 || got[0] != want {
		t.Errorf("the upstream's _meta.traceparent %q, want [%q] (the exchange's span in the client's trace)", got, want)
	}
	if _, header := up.postWith(`"hi"`); header != want {
		t.Errorf("the upstream's traceparent header %q, want %q", header, want)
	}

	// A tool's isError result: error.type tool_error.
	if res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "fails"}); err != nil || !res.IsError {
		t.Fatalf("fails: %v %+v", err, res)
	}
	failed := rc.await(t, "tools/call fails (SERVER)", func(s *tracepb.Span) bool {
		return s.Name == "tools/call fails" && s.Kind == tracepb.Span_SPAN_KIND_SERVER
	})
	if got := spanAttr(failed, "error.type"); got != "tool_error" {
		t.Errorf("error.type of an isError result %q, want tool_error", got)
	}

	checkSessionTrace(ctx, t, rc, up, base+"/mcp")
	checkVerdictEvents(ctx, t, rc, cs)
	checkUntraced(ctx, t, rc, cs, up, base+"/plain")
}

// checkServerSpan checks the SERVER span of the echo call.
func checkServerSpan(t *testing.T, rc *otlpReceiver, s *tracepb.Span, clientTrace, clientSpan string) {
	t.Helper()
	if hexID(s.TraceId) != clientTrace || hexID(s.ParentSpanId) != clientSpan {
		t.Errorf("server span in trace %s under %s, want the client's %s under %s",
			hexID(s.TraceId), hexID(s.ParentSpanId), clientTrace, clientSpan)
	}
	for key, want := range map[string]string{
		"mcp.method.name":            "tools/call",
		"mcp.protocol.version":       "2026-07-28",
		"gen_ai.tool.name":           "echo",
		"gen_ai.operation.name":      "execute_tool",
		"gen_ai.tool.call.arguments": `{"text":"hi"}`,
	} {
		if got := spanAttr(s, key); got != want {
			t.Errorf("server span %s = %q, want %q", key, got, want)
		}
	}
	if spanAttr(s, "jsonrpc.request.id") == "" {
		t.Error("server span has no jsonrpc.request.id")
	}
	if !strings.Contains(spanAttr(s, "gen_ai.tool.call.result"), "echo answered") {
		t.Errorf("server span's result %q (trace_arguments is on)", spanAttr(s, "gen_ai.tool.call.result"))
	}
	if spanAttr(s, "error.type") != "" {
		t.Errorf("a successful call has error.type %q", spanAttr(s, "error.type"))
	}
	if len(s.Links) != 1 {
		t.Fatalf("server span has %d links, want Caddy's HTTP span", len(s.Links))
	}
	link := s.Links[0]
	rc.await(t, "Caddy's HTTP span (the link)", func(c *tracepb.Span) bool {
		return bytes.Equal(c.SpanId, link.SpanId) && bytes.Equal(c.TraceId, link.TraceId) && c.Kind == tracepb.Span_SPAN_KIND_SERVER
	})
}

// checkClientSpan checks the CLIENT span of the echo call's exchange.
func checkClientSpan(t *testing.T, c, server *tracepb.Span, upstreamURL string) {
	t.Helper()
	if !bytes.Equal(c.TraceId, server.TraceId) || !bytes.Equal(c.ParentSpanId, server.SpanId) {
		t.Errorf("client span is not the server span's child")
	}
	u, _ := url.Parse(upstreamURL)
	for key, want := range map[string]string{
		"mcp.method.name":    "tools/call",
		"gen_ai.tool.name":   "echo",
		"server.address":     u.Hostname(),
		"server.port":        u.Port(),
		"network.transport":  "tcp",
		"caddy.mcp.upstream": "127.0.0.1-" + u.Port(),
	} {
		if got := spanAttr(c, key); got != want {
			t.Errorf("client span %s = %q, want %q", key, got, want)
		}
	}
}

// checkVerdictEvents: a held call's span carries "held" (how it ended,
// the rule), a blocked call's "blocked" with the rule.
func checkVerdictEvents(ctx context.Context, t *testing.T, rc *otlpReceiver, cs *mcp.ClientSession) {
	t.Helper()
	pending := callAsync(ctx, cs, "slow")
	e := awaitHeld(t, "slow")
	if st := decideHeld(t, e.ID, "continue", ""); st != http.StatusNoContent {
		t.Fatalf("continue: %d", st)
	}
	if o := <-pending; o.err != nil {
		t.Fatalf("held call: %v", o.err)
	}
	held := rc.await(t, "tools/call slow (SERVER)", func(s *tracepb.Span) bool {
		return s.Name == "tools/call slow" && s.Kind == tracepb.Span_SPAN_KIND_SERVER
	})
	if ev := spanEvent(held, "held"); ev == nil || attrText(ev.Attributes, "caddy.mcp.hold.ended") != "released" ||
		attrText(ev.Attributes, "caddy.mcp.rule") != "gate" {
		t.Errorf("held call's events %v, want held (released, rule gate)", held.Events)
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "forbidden"}); err == nil {
		t.Fatal("a blocked call succeeded")
	}
	blocked := rc.await(t, "tools/call forbidden (SERVER)", func(s *tracepb.Span) bool {
		return s.Name == "tools/call forbidden" && s.Kind == tracepb.Span_SPAN_KIND_SERVER
	})
	if ev := spanEvent(blocked, "blocked"); ev == nil || attrText(ev.Attributes, "caddy.mcp.rule") != "deny" {
		t.Errorf("blocked call's events %v, want blocked (rule deny)", blocked.Events)
	}
	if spanAttr(blocked, "error.type") == "" {
		t.Error("a blocked call's span has no error.type")
	}
	if n := len(rc.spansNamed("tools/call forbidden", tracepb.Span_SPAN_KIND_CLIENT)); n != 0 {
		t.Errorf("a blocked call has %d upstream exchanges", n)
	}
}

// checkUntraced: through the endpoint without tracing, the upstream gets
// the client's bytes as they were sent, without a traceparent, and no
// span is made.
func checkUntraced(ctx context.Context, t *testing.T, rc *otlpReceiver, cs *mcp.ClientSession, up *tracedUpstream, plainURL string) {
	t.Helper()
	body := `{"jsonrpc":"2.0", "id":"u-1","method":"tools/call","params":{"name":"echo" ,"arguments":{"text":"plain"},` +
		`"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`
	req, _ := http.NewRequest(http.MethodPost, plainURL, strings.NewReader(body))
	for k, v := range map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
		"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "echo"} {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(answer), "echo answered") {
		t.Fatalf("untraced call: %d %s", resp.StatusCode, answer)
	}
	got, header := up.postWith(`"plain"`)
	if got != body || header != "" {
		t.Errorf("untraced: the upstream got %q with traceparent %q, want the client's bytes %q and none", got, header, body)
	}
	var m struct {
		Params struct {
			Meta map[string]json.RawMessage `json:"_meta"`
		}
	}
	_ = json.Unmarshal([]byte(got), &m)
	if _, ok := m.Params.Meta["traceparent"]; ok {
		t.Error("untraced: _meta.traceparent reached the upstream")
	}
	// Spans are exported in the order they end: once a traced call made
	// after it is in, a span of the untraced call would be too.
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "after"}}); err != nil {
		t.Fatal(err)
	}
	rc.await(t, "the traced call after the untraced one", func(s *tracepb.Span) bool {
		return s.Kind == tracepb.Span_SPAN_KIND_SERVER && strings.Contains(spanAttr(s, "gen_ai.tool.call.arguments"), "after")
	})
	if n := rc.count(func(s *tracepb.Span) bool { return spanAttr(s, "jsonrpc.request.id") == "u-1" }); n != 0 {
		t.Errorf("an untraced call made %d spans", n)
	}
}

// spansNamed are the received spans of name and kind.
func (rc *otlpReceiver) spansNamed(name string, kind tracepb.Span_SpanKind) []*tracepb.Span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range rc.spans {
		if s.Name == name && s.Kind == kind {
			out = append(out, s)
		}
	}
	return out
}

// checkSessionTrace: a 2025-11-25 session's tools/call has the same spans,
// with the session id the client holds, and the server behind the gateway
// gets the exchange's context.
func checkSessionTrace(ctx context.Context, t *testing.T, rc *otlpReceiver, up *tracedUpstream, url string) {
	t.Helper()
	cs := connectGo(ctx, t, url, "2025-11-25", nil)
	const clientTrace, clientSpan = "5bf92f3577b34da6a3ce929d0e0e4737", "10f067aa0ba902b8"
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "session"},
		Meta: mcp.Meta{"traceparent": "00-" + clientTrace + "-" + clientSpan + "-01"}}); err != nil {
		t.Fatalf("session echo: %v", err)
	}
	server := rc.await(t, "the session's tools/call echo (SERVER)", func(s *tracepb.Span) bool {
		return s.Kind == tracepb.Span_SPAN_KIND_SERVER && hexID(s.TraceId) == clientTrace
	})
	if server.Name != "tools/call echo" || hexID(server.ParentSpanId) != clientSpan {
		t.Errorf("session span %q under %s", server.Name, hexID(server.ParentSpanId))
	}
	if got := spanAttr(server, "mcp.session.id"); got == "" || got != cs.ID() {
		t.Errorf("mcp.session.id %q, want the client's %q", got, cs.ID())
	}
	if got := spanAttr(server, "mcp.protocol.version"); got != "2025-11-25" {
		t.Errorf("mcp.protocol.version %q, want 2025-11-25", got)
	}
	client := rc.await(t, "the session's exchange (CLIENT)", func(s *tracepb.Span) bool {
		return s.Kind == tracepb.Span_SPAN_KIND_CLIENT && hexID(s.TraceId) == clientTrace
	})
	if !bytes.Equal(client.ParentSpanId, server.SpanId) || spanAttr(client, "network.transport") != "tcp" || spanAttr(client, "server.port") == "" {
		t.Errorf("session exchange span %v", client)
	}
	want := "00-" + clientTrace + "-" + hexID(client.SpanId) + "-01"
	if got := up.meta("echo"); len(got) == 0 || got[len(got)-1] != want {
		t.Errorf("the upstream's _meta.traceparent %q, want %q last", got, want)
	}
	if _, header := up.postWith(`"session"`); header != want {
		t.Errorf("the upstream's traceparent header %q, want %q", header, want)
	}
}

// TestTracingStdio: through a stdio upstream (the go-sdk everything-server)
// a 2026-07-28 call and a 2025-11-25 session's call each get an exchange
// span on a pipe, named by the upstream's name, in the client's trace.
func TestTracingStdio(t *testing.T) {
	rc := startOTLPReceiver(t)
	server := buildEverythingServer(t)
	base := startProxy(t, fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	route /mcp {
		tracing
		mcp_proxy {
			stdio %s {
				name everything
			}
		}
	}
}
`, caddyfileQuote(server)), goroutinesChecked)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, version := range []string{"", "2025-11-25"} {
		cs := connectGo(ctx, t, base+"/mcp", version, nil)
		clientTrace := fmt.Sprintf("6bf92f3577b34da6a3ce929d0e0e473%d", i)
		if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_simple_text",
			Meta: mcp.Meta{"traceparent": "00-" + clientTrace + "-20f067aa0ba902b9-01"}}); err != nil {
			t.Fatalf("%s call: %v", cs.InitializeResult().ProtocolVersion, err)
		}
		c := rc.await(t, "the stdio exchange (CLIENT) at "+cs.InitializeResult().ProtocolVersion, func(s *tracepb.Span) bool {
			return s.Kind == tracepb.Span_SPAN_KIND_CLIENT && hexID(s.TraceId) == clientTrace
		})
		if c.Name != "tools/call test_simple_text" || spanAttr(c, "network.transport") != "pipe" ||
			spanAttr(c, "caddy.mcp.upstream") != "everything" || spanAttr(c, "server.address") != "" {
			t.Errorf("stdio exchange span %q: %v", c.Name, c.Attributes)
		}
	}
}
