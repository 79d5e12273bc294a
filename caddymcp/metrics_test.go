package caddymcp

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// TestEndpointMetricsLabels: MCP's own methods keep their name, others count
// as other and no method as none; 4xx/5xx are refused, a JSON-RPC error
// answer is error, a policy's block or mock blocked or mocked, the rest ok.
func TestEndpointMetricsLabels(t *testing.T) {
	m := newEndpointMetrics("unit-labels")
	for _, c := range []struct {
		method, wantMethod string
		status             int
		answered           answerOutcome
		wantOutcome        string
	}{
		{"tools/call", "tools/call", http.StatusOK, answerOK, outcomeOK},
		{"tools/call", "tools/call", http.StatusAccepted, answerOK, outcomeOK},
		{"tools/call", "tools/call", http.StatusOK, answerError, outcomeError},
		{"tools/call", "tools/call", http.StatusOK, answerBlocked, outcomeBlocked},
		{"prompts/get", "prompts/get", http.StatusOK, answerMocked, outcomeMocked},
		{"tools/call", "tools/call", http.StatusTooManyRequests, answerOK, outcomeRefused},
		{"x/made-up", methodOther, http.StatusOK, answerOK, outcomeOK},
		{"", methodNone, http.StatusUnsupportedMediaType, answerOK, outcomeRefused},
		{"initialize", "initialize", http.StatusBadGateway, answerError, outcomeRefused},
	} {
		counter := metrics.requests.WithLabelValues("unit-labels", c.wantMethod, c.wantOutcome)
		before := testutil.ToFloat64(counter)
		m.observe(c.method, c.status, c.answered, time.Millisecond)
		if got := testutil.ToFloat64(counter) - before; got != 1 {
			t.Errorf("observe(%q, %d, %v): requests_total{method=%q,outcome=%q} rose by %v, want 1",
				c.method, c.status, c.answered, c.wantMethod, c.wantOutcome, got)
		}
	}
	if n := testutil.CollectAndCount(metrics.duration, "caddy_mcp_request_duration_seconds"); n < 4 {
		t.Errorf("request_duration_seconds has %d series, want one per method seen (at least 4)", n)
	}
}

// TestStatusRecorder: the status is the first one written, 200 for a body
// with none, and the writer underneath stays reachable for flushing.
func TestStatusRecorder(t *testing.T) {
	for _, c := range []struct {
		name  string
		write func(w http.ResponseWriter)
		want  int
	}{
		{"explicit", func(w http.ResponseWriter) { w.WriteHeader(http.StatusNotFound); w.WriteHeader(http.StatusOK) }, http.StatusNotFound},
		{"body only", func(w http.ResponseWriter) { _, _ = w.Write([]byte("{}")) }, http.StatusOK},
		{"flush", func(w http.ResponseWriter) { _ = http.NewResponseController(w).Flush() }, http.StatusOK},
		{"nothing", func(http.ResponseWriter) {}, 0},
	} {
		inner := httptest.NewRecorder()
		rec := &statusRecorder{ResponseWriter: inner}
		c.write(rec)
		if rec.status != c.want {
			t.Errorf("%s: status = %d, want %d", c.name, rec.status, c.want)
		}
		if c.name == "flush" && !inner.Flushed {
			t.Errorf("flush did not reach the writer underneath")
		}
	}
}

// TestStateCollector: an endpoint's store shows with its sessions and
// evictions; registering twice (a reload) is not an error.
func TestStateCollector(t *testing.T) {
	const name = "unit-state"
	_, _, err := mcpstate.SessionStores.LoadOrNew(name, func() (caddy.Destructor, error) {
		return &mcpstate.StoreEntry{Store: front.NewStore(front.Limits{MaxSessions: 1}, zap.NewNop())}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = mcpstate.SessionStores.Delete(name) }()
	initMetrics()
	want := `
# HELP caddy_mcp_sessions Live MCP sessions of the endpoint.
# TYPE caddy_mcp_sessions gauge
caddy_mcp_sessions{endpoint="unit-state"} 0
`
	if err := testutil.CollectAndCompare(metrics.state, strings.NewReader(want), "caddy_mcp_sessions"); err != nil {
		t.Error(err)
	}
}

// TestToolLabels: only tools a passing tools/list named get their own
// label, at most maxToolLabels of them; others, and calls before any list,
// count as other. An error answer teaches nothing and counts as error, as
// does a result with isError; what the policy decided counts as blocked or
// mocked.
func TestToolLabels(t *testing.T) {
	endpoint := freshEndpoint("unit-tools")
	m := newEndpointMetrics(endpoint)
	calls := func(tool, outcome string) float64 {
		return testutil.ToFloat64(metrics.toolCalls.WithLabelValues(endpoint, "", tool, outcome))
	}
	answer := func(raw string) *pipeline.Message {
		msg, err := pipeline.Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	ok := answer(`{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`)
	failed := answer(`{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"unknown tool"}}`)
	toolFailed := answer(`{"jsonrpc":"2.0","id":1,"result":{"content":[],"isError":true}}`)
	by := front.PolicyNone
	onAnswer := func(post http.ResponseWriter, method, target string, msg *pipeline.Message) {
		m.onAnswer(post, method, target, "", msg, by, mcpstate.OutcomeOf(front.Answered{Answer: msg, Policy: by}))
	}

	onAnswer(nil, "tools/call", "echo", ok) // not listed yet
	onAnswer(nil, "tools/list", "", failed) // teaches nothing
	onAnswer(nil, "tools/call", "echo", ok)
	if got := calls(methodOther, outcomeOK); got != 2 {
		t.Errorf("calls before any passing tools/list: other/ok = %v, want 2", got)
	}
	var tools []string
	for i := range maxToolLabels + 5 {
		tools = append(tools, fmt.Sprintf(`{"name":"tool%d"}`, i))
	}
	onAnswer(nil, "tools/list", "", answer(`{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"echo"},`+strings.Join(tools, ",")+`]}}`))
	rec := &statusRecorder{ResponseWriter: httptest.NewRecorder()}
	onAnswer(rec, "tools/call", "echo", ok)
	onAnswer(rec, "tools/call", "echo", failed)
	onAnswer(nil, "tools/call", "tool98", ok) // the 100th listed
	onAnswer(nil, "tools/call", "tool99", ok) // the 101st listed: past the cap
	onAnswer(nil, "tools/call", "echo", toolFailed)
	by = front.PolicyBlocked
	onAnswer(nil, "tools/call", "echo", failed)
	onAnswer(nil, "tools/call", "hidden", failed)
	by = front.PolicyMocked
	onAnswer(nil, "tools/call", "echo", ok)
	for _, c := range []struct {
		tool, outcome string
		want          float64
	}{
		{"echo", outcomeOK, 1},
		{"echo", outcomeError, 2},
		{"echo", "blocked", 1},
		{"echo", "mocked", 1},
		{methodOther, "blocked", 1},
		{"tool98", outcomeOK, 1},
		{"tool99", outcomeOK, 0},
		{methodOther, outcomeOK, 3},
	} {
		if got := calls(c.tool, c.outcome); got != c.want {
			t.Errorf("tool_calls_total{tool=%q,outcome=%q} = %v, want %v", c.tool, c.outcome, got, c.want)
		}
	}
	if answerOutcome(rec.answered.Load()) != answerError {
		t.Error("an error answer did not mark its POST")
	}
}

// TestToolLabelsServer: a federated endpoint's call counts under the
// client-visible name it called and the server that owns it; a call no
// list placed on a server yet, under server "".
func TestToolLabelsServer(t *testing.T) {
	endpoint := freshEndpoint("unit-fed-tools")
	m := newEndpointMetrics(endpoint)
	ok := pipeline.NewResult([]byte("1"), []byte(`{"content":[]}`))
	m.onAnswer(nil, "tools/list", "", "", pipeline.NewResult([]byte("2"), []byte(`{"tools":[{"name":"docs_echo"},{"name":"github_echo"}]}`)), front.PolicyNone, mcpstate.CallOutcome(0))
	for _, c := range []struct{ tool, server string }{{"docs_echo", "docs"}, {"docs_echo", "docs"}, {"github_echo", "github"}, {"github_echo", ""}} {
		m.onAnswer(nil, "tools/call", c.tool, c.server, ok, front.PolicyNone, mcpstate.CallOK)
	}
	for _, c := range []struct {
		server, tool string
		want         float64
	}{{"docs", "docs_echo", 2}, {"github", "github_echo", 1}, {"", "github_echo", 1}, {"", "docs_echo", 0}} {
		if got := testutil.ToFloat64(metrics.toolCalls.WithLabelValues(endpoint, c.server, c.tool, outcomeOK)); got != c.want {
			t.Errorf("tool_calls_total{server=%q,tool=%q} = %v, want %v", c.server, c.tool, got, c.want)
		}
	}
}

// TestRegisterMetricsWithoutRegistry: under caddy validate there is no
// registry; registering is then no error and the collectors still work.
func TestRegisterMetricsWithoutRegistry(t *testing.T) {
	if err := registerMetrics(caddy.Context{}); err != nil {
		t.Fatalf("registerMetrics without a registry: %v", err)
	}
	endpoint := freshEndpoint("unit-validate")
	m := newEndpointMetrics(endpoint)
	m.observe("ping", http.StatusOK, answerOK, time.Millisecond)
	if got := testutil.ToFloat64(metrics.requests.WithLabelValues(endpoint, "ping", outcomeOK)); got != 1 {
		t.Errorf("requests_total{method=ping,outcome=ok} = %v, want 1", got)
	}
}

// BenchmarkObserve is what a POST costs the metrics besides the status
// recorder's allocation (which does not escape here; in ServeHTTP it does,
// as front keeps it with the request's call): one counter and one
// histogram update through cached label children, no map hashing of labels.
func BenchmarkObserve(b *testing.B) {
	m := newEndpointMetrics("bench")
	inner := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		rec := &statusRecorder{ResponseWriter: inner}
		rec.WriteHeader(http.StatusOK)
		m.observeRecorded("tools/call", rec, time.Millisecond)
	}
}

// BenchmarkOnAnswerToolCall is what a tools/call answer costs the metrics:
// the tool's label (a listed name) and its counter.
func BenchmarkOnAnswerToolCall(b *testing.B) {
	m := newEndpointMetrics("bench-tools")
	m.tools.learn([]byte(`{"tools":[{"name":"echo"}]}`))
	answer := pipeline.NewResult([]byte("7"), []byte(`{"content":[]}`))
	rec := &statusRecorder{ResponseWriter: httptest.NewRecorder()}
	b.ReportAllocs()
	for b.Loop() {
		m.onAnswer(rec, "tools/call", "echo", "", answer, front.PolicyNone, mcpstate.CallOK)
	}
}

// TestRequestOutcomeOfPolicy: a POST whose request a policy refused counts
// in requests_total as blocked and one a rule answered as mocked, apart
// from a JSON-RPC error the server or the gateway's own failure gave;
// in a batch, an error outranks blocked, which outranks mocked.
func TestRequestOutcomeOfPolicy(t *testing.T) {
	const endpoint = "unit-request-policy"
	o := &observer{metrics: newEndpointMetrics(endpoint), calls: new(mcpstate.CallLog)}
	result := pipeline.NewResult([]byte("1"), []byte(`{"content":[]}`))
	refusal := pipeline.NewError([]byte("1"), -32600, "blocked by rule no-secrets")
	type answer struct {
		msg    *pipeline.Message
		policy front.Policy
	}
	for _, c := range []struct {
		name, method string
		answers      []answer
		want         string
	}{
		{"server result", "prompts/get", []answer{{result, front.PolicyNone}}, outcomeOK},
		{"server error", "prompts/get", []answer{{refusal, front.PolicyNone}}, outcomeError},
		{"blocked prompt", "prompts/get", []answer{{refusal, front.PolicyBlocked}}, outcomeBlocked},
		{"blocked tool call", "tools/call", []answer{{refusal, front.PolicyBlocked}}, outcomeBlocked},
		{"mocked resource", "resources/read", []answer{{result, front.PolicyMocked}}, outcomeMocked},
		{"batch: blocked and mocked", "tools/call", []answer{{result, front.PolicyMocked}, {refusal, front.PolicyBlocked}}, outcomeBlocked},
		{"batch: error and blocked", "tools/call", []answer{{refusal, front.PolicyBlocked}, {refusal, front.PolicyNone}}, outcomeError},
		{"batch: blocked and ok", "tools/call", []answer{{refusal, front.PolicyBlocked}, {result, front.PolicyNone}}, outcomeBlocked},
	} {
		t.Run(c.name, func(t *testing.T) {
			counter := metrics.requests.WithLabelValues(endpoint, c.method, c.want)
			before := testutil.ToFloat64(counter)
			rec := &statusRecorder{ResponseWriter: httptest.NewRecorder()}
			rec.WriteHeader(http.StatusOK)
			for _, a := range c.answers {
				o.OnAnswer(front.Answered{Post: rec, Method: c.method, Target: "x", Answer: a.msg, Policy: a.policy})
			}
			o.metrics.observeRecorded(c.method, rec, time.Millisecond)
			if got := testutil.ToFloat64(counter) - before; got != 1 {
				t.Errorf("requests_total{method=%q,outcome=%q} rose by %v, want 1", c.method, c.want, got)
			}
		})
	}
}

// flushErrWriter is a ResponseWriter whose flush fails, as Caddy's own
// writers report a broken connection.
type flushErrWriter struct {
	*httptest.ResponseRecorder
	flushes int
}

var errFlushBroken = errors.New("broken pipe")

func (w *flushErrWriter) FlushError() error { w.flushes++; return errFlushBroken }

// TestStatusRecorderFlushError: a flush through the recorder reaches the
// writer underneath and brings back its error (http.Flusher's Flush had
// no way to).
func TestStatusRecorderFlushError(t *testing.T) {
	inner := &flushErrWriter{ResponseRecorder: httptest.NewRecorder()}
	rec := &statusRecorder{ResponseWriter: inner}
	if err := http.NewResponseController(rec).Flush(); !errors.Is(err, errFlushBroken) {
		t.Errorf("flush: %v, want %v", err, errFlushBroken)
	}
	if inner.flushes != 1 || rec.status != http.StatusOK {
		t.Errorf("flushes %d, status %d", inner.flushes, rec.status)
	}
}

// BenchmarkStatusRecorderFlush is a flush of an SSE event through the
// recorder, as the front's writer makes it (one ResponseController per
// stream).
func BenchmarkStatusRecorderFlush(b *testing.B) {
	inner := &flushErrWriter{ResponseRecorder: httptest.NewRecorder()}
	rc := http.NewResponseController(&statusRecorder{ResponseWriter: inner})
	b.ReportAllocs()
	for b.Loop() {
		_ = rc.Flush()
	}
}

// endpoints counts the endpoint names freshEndpoint made.
var endpoints atomic.Int64

// freshEndpoint is an endpoint name no earlier run of a test in this
// process used: the collectors are the process's, and a test that counts
// from zero would count what an earlier run (-count=N) left.
func freshEndpoint(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, endpoints.Add(1))
}
