package caddytest

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP trace receiver: it takes what Caddy's real
// exporter sends over the wire (POST /v1/traces, protobuf) and keeps the
// spans. It stands in for Jaeger, which takes ten minutes to build here.
type otlpReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	spans []*tracepb.Span
}

// startOTLPReceiver starts a receiver and points the OTel SDK's exporter
// at it through the standard variables, which Caddy's tracing handler
// reads when it is provisioned: call it before startProxy, in a test that
// does not run in parallel.
func startOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	rc := &otlpReceiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rc.srv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	t.Setenv("OTEL_SERVICE_NAME", "caddy-mcp-test")
	return rc
}

func (rc *otlpReceiver) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			rc.spans = append(rc.spans, ss.Spans...)
		}
	}
	rc.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// await waits (bounded) for a span that match accepts, and returns it.
func (rc *otlpReceiver) await(t *testing.T, what string, match func(*tracepb.Span) bool) *tracepb.Span {
	t.Helper()
	var found *tracepb.Span
	if !poll(15*time.Second, func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, s := range rc.spans {
			if match(s) {
				found = s
				return true
			}
		}
		return false
	}) {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		var names []string
		for _, s := range rc.spans {
			names = append(names, s.Name+" "+s.Kind.String())
		}
		t.Fatalf("no span %s among %d received: %v", what, len(rc.spans), names)
	}
	return found
}

// count is how many received spans match accepts.
func (rc *otlpReceiver) count(match func(*tracepb.Span) bool) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, s := range rc.spans {
		if match(s) {
			n++
		}
	}
	return n
}

// spanAttr is the value of attribute key of s as text ("" if absent).
func spanAttr(s *tracepb.Span, key string) string {
	return attrText(s.Attributes, key)
}

// attrText is the value of attribute key among attrs as text.
func attrText(attrs []*commonpb.KeyValue, key string) string {
	for _, kv := range attrs {
		if kv.Key != key {
			continue
		}
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			return v.StringValue
		case *commonpb.AnyValue_IntValue:
			return strconv.FormatInt(v.IntValue, 10)
		case *commonpb.AnyValue_BoolValue:
			if v.BoolValue {
				return "true"
			}
			return "false"
		}
	}
	return ""
}

// spanEvent is the first event of s named name, or nil.
func spanEvent(s *tracepb.Span, name string) *tracepb.Span_Event {
	for _, e := range s.Events {
		if e.Name == name {
			return e
		}
	}
	return nil
}

func hexID(b []byte) string { return hex.EncodeToString(b) }
