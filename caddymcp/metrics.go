package caddymcp

import (
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream/remote"
)

// mcpMethods are the JSON-RPC methods a client sends under MCP: the only
// values the method label takes besides methodOther and methodNone, so a
// client cannot grow the series by inventing method names.
var mcpMethods = []string{
	"initialize", "ping",
	"tools/list", "tools/call",
	"prompts/list", "prompts/get",
	"resources/list", "resources/templates/list", "resources/read",
	"resources/subscribe", "resources/unsubscribe",
	"completion/complete", "logging/setLevel",
	"tasks/get", "tasks/list", "tasks/result", "tasks/cancel",
	"notifications/initialized", "notifications/cancelled", "notifications/progress",
	"notifications/roots/list_changed", "notifications/tasks/status",
}

// The method label of a POST whose method is not MCP's, and of one with
// no method (a body that did not parse, or the client's response to a
// server request).
const (
	methodOther = "other"
	methodNone  = "none"
)

// The outcome label of a request: answered, answered with a JSON-RPC
// error, refused or answered by the gateway's policy in the server's
// place (as tools/call outcomes are), or answered 4xx/5xx by the gateway.
const (
	outcomeOK      = "ok"
	outcomeError   = "error"
	outcomeBlocked = "blocked"
	outcomeMocked  = "mocked"
	outcomeRefused = "refused"
)

// answerOutcome is what the answers of one POST's requests were, the
// worst of them: a batch with an error counts as error, else with a
// request a policy refused as blocked, else with one a rule answered as
// mocked.
type answerOutcome uint32

const (
	answerOK answerOutcome = iota
	answerMocked
	answerBlocked
	answerError
)

// answerOutcomeOf is the outcome of one answer and the policy that decided
// it.
func answerOutcomeOf(answer *pipeline.Message, policy front.Policy) answerOutcome {
	switch {
	case policy == front.PolicyBlocked:
		return answerBlocked
	case policy == front.PolicyMocked:
		return answerMocked
	case answer.Error != nil:
		return answerError
	}
	return answerOK
}

// metrics are the collectors, made once and registered with the registry
// of every configuration load (Caddy makes a new one per load).
var metrics = struct {
	once       sync.Once
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	toolCalls  *prometheus.CounterVec
	streams    *prometheus.GaugeVec
	reconnects *prometheus.CounterVec
	state      prometheus.Collector
}{}

func initMetrics() {
	metrics.once.Do(func() {
		const ns = "caddy_mcp"
		metrics.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "requests_total",
			Help: "Client POSTs to mcp_proxy by endpoint, MCP method and outcome (ok; error: a JSON-RPC error answer from the server or the gateway's own failure; blocked: refused by the gateway's policy; mocked: answered by a rule or an operator in the server's place; refused: answered 4xx/5xx).",
		}, []string{"endpoint", "method", "outcome"})
		metrics.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "request_duration_seconds",
			Help:    "Time mcp_proxy took to answer a client POST, by endpoint and MCP method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"endpoint", "method"})
		metrics.toolCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "tool_calls_total",
			Help: "tools/call requests answered, by endpoint, server (a federated endpoint's server of the tool, else empty), tool (the client-visible name, if listed, else other) and outcome (ok; error: a JSON-RPC error, the gateway's own failure or a result with isError; blocked: refused by the gateway's policy, e.g. an intercept rule's block or a hidden tool; mocked: answered by a rule or an operator in the server's place).",
		}, []string{"endpoint", "server", "tool", "outcome"})
		metrics.streams = prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "streams",
			Help: "SSE streams clients hold open, by endpoint and kind (post, get, sse_2024, stateless, listen).",
		}, []string{"endpoint", "kind"})
		metrics.reconnects = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "upstream_reconnects_total",
			Help: "Requests that re-opened an SSE stream an HTTP upstream dropped, by endpoint and stream (get: the session's GET stream; resume: a response stream resumed with Last-Event-ID).",
		}, []string{"endpoint", "stream"})
		metrics.state = stateCollector{}
	})
}

// collectors are every collector of the module, made by initMetrics.
func collectors() []prometheus.Collector {
	return []prometheus.Collector{metrics.requests, metrics.duration, metrics.toolCalls, metrics.streams, metrics.reconnects, metrics.state, upstreamHealthCollector{}, mcpstate.Interceptions, cacheTotal, toolDrifts, hiddenNames}
}

// registerMetrics registers the collectors with ctx's registry, which is
// nil when there is none (caddy validate).
func registerMetrics(ctx caddy.Context) error {
	initMetrics()
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return nil
	}
	for _, c := range collectors() {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return err
			}
		}
	}
	return nil
}

// endpointMetrics are one endpoint's label children, looked up once so
// that a request costs no label hashing.
type endpointMetrics struct {
	endpoint   string
	tools      *toolSet
	methods    map[string]*methodMetrics
	other      *methodMetrics
	none       *methodMetrics
	streams    [front.NumClientStreams]prometheus.Gauge
	reconnects [2]prometheus.Counter // by remote.Reconnect
}

type methodMetrics struct {
	ok, failed, blocked, mocked, refused prometheus.Counter
	duration                             prometheus.Observer
}

func newEndpointMetrics(endpoint string) *endpointMetrics {
	initMetrics()
	child := func(method string) *methodMetrics {
		return &methodMetrics{
			ok:       metrics.requests.WithLabelValues(endpoint, method, outcomeOK),
			failed:   metrics.requests.WithLabelValues(endpoint, method, outcomeError),
			blocked:  metrics.requests.WithLabelValues(endpoint, method, outcomeBlocked),
			mocked:   metrics.requests.WithLabelValues(endpoint, method, outcomeMocked),
			refused:  metrics.requests.WithLabelValues(endpoint, method, outcomeRefused),
			duration: metrics.duration.WithLabelValues(endpoint, method),
		}
	}
	m := &endpointMetrics{endpoint: endpoint, tools: toolsOf(endpoint), methods: make(map[string]*methodMetrics, len(mcpMethods)), other: child(methodOther), none: child(methodNone)}
	for _, name := range mcpMethods {
		m.methods[name] = child(name)
	}
	for k := range front.NumClientStreams {
		m.streams[k] = metrics.streams.WithLabelValues(endpoint, k.String())
	}
	for _, k := range []remote.Reconnect{remote.ReconnectGet, remote.ReconnectResume} {
		m.reconnects[k] = metrics.reconnects.WithLabelValues(endpoint, k.String())
	}
	return m
}

// observe counts one POST with the given MCP method ("" for none), the
// status it was answered with, what its requests' answers were, and how
// long it took.
func (m *endpointMetrics) observe(method string, status int, answered answerOutcome, took time.Duration) {
	mm := m.none
	if method != "" {
		if mm = m.methods[method]; mm == nil {
			mm = m.other
		}
	}
	switch {
	case status >= 400:
		mm.refused.Inc()
	case answered == answerError:
		mm.failed.Inc()
	case answered == answerBlocked:
		mm.blocked.Inc()
	case answered == answerMocked:
		mm.mocked.Inc()
	default:
		mm.ok.Inc()
	}
	mm.duration.Observe(took.Seconds())
}

// observeRecorded counts one POST as rec recorded its answer.
func (m *endpointMetrics) observeRecorded(method string, rec *statusRecorder, took time.Duration) {
	m.observe(method, rec.status, answerOutcome(rec.answered.Load()), took)
}

// onStream counts a client stream opened (delta 1) or closed (-1).
func (m *endpointMetrics) onStream(kind front.ClientStream, delta int) {
	m.streams[kind].Add(float64(delta))
}

// onReconnect is remote.Config.OnReconnect for the endpoint's HTTP upstream.
func (m *endpointMetrics) onReconnect(kind remote.Reconnect) {
	m.reconnects[kind].Inc()
}

// statusRecorder keeps the status a handler answered with. Unwrap lets
// http.ResponseController reach the writer's Flush and deadlines.
type statusRecorder struct {
	http.ResponseWriter
	status   int
	answered atomic.Uint32 // the worst answerOutcome so far, set by noteAnswer, maybe on another goroutine
	// What the observer's last OnRequest published, when it was told on
	// this writer: the Handler then need not read it back from the
	// request's replacer. On the request's goroutine only.
	described bool
	method    string
}

// noteAnswer records the outcome of one of the POST's answers, keeping
// the worst.
func (s *statusRecorder) noteAnswer(o answerOutcome) {
	for {
		cur := s.answered.Load()
		if uint32(o) <= cur || s.answered.CompareAndSwap(cur, uint32(o)) {
			return
		}
	}
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Flush implements http.Flusher for writers that look for it directly.
func (s *statusRecorder) Flush() { _ = s.FlushError() }

// FlushError is what http.ResponseController.Flush calls: the writer
// below's own flush, found without making a ResponseController per flush.
func (s *statusRecorder) FlushError() error {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	switch w := s.ResponseWriter.(type) {
	case interface{ FlushError() error }:
		return w.FlushError()
	case http.Flusher:
		w.Flush()
		return nil
	}
	return http.NewResponseController(s.ResponseWriter).Flush()
}

// Unwrap is for http.ResponseController.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
