package caddymcp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
)

// TestEndpointMetricsLabels: MCP's own methods keep their name, others count
// as other and no method as none; 4xx/5xx are refused, the rest ok.
func TestEndpointMetricsLabels(t *testing.T) {
	m := newEndpointMetrics("unit-labels")
	for _, c := range []struct {
		method, wantMethod string
		status             int
		wantOutcome        string
	}{
		{"tools/call", "tools/call", http.StatusOK, outcomeOK},
		{"tools/call", "tools/call", http.StatusAccepted, outcomeOK},
		{"tools/call", "tools/call", http.StatusTooManyRequests, outcomeRefused},
		{"x/made-up", methodOther, http.StatusOK, outcomeOK},
		{"", methodNone, http.StatusUnsupportedMediaType, outcomeRefused},
		{"initialize", "initialize", http.StatusBadGateway, outcomeRefused},
	} {
		counter := metrics.requests.WithLabelValues("unit-labels", c.wantMethod, c.wantOutcome)
		before := testutil.ToFloat64(counter)
		m.observe(c.method, c.status, time.Millisecond)
		if got := testutil.ToFloat64(counter) - before; got != 1 {
			t.Errorf("observe(%q, %d): requests_total{method=%q,outcome=%q} rose by %v, want 1",
				c.method, c.status, c.wantMethod, c.wantOutcome, got)
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
	_, _, err := sessionStores.LoadOrNew(name, func() (caddy.Destructor, error) {
		return &storeEntry{store: front.NewStore(front.Limits{MaxSessions: 1}, zap.NewNop())}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = sessionStores.Delete(name) }()
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
