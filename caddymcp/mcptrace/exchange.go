package mcptrace

import (
	"context"
	"errors"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// Exchange implements upstream.Tracer: a CLIENT span, child of the
// request's span, for one exchange with peer, whose context goes to the
// server in m's params._meta (traceparent, tracestate) and, for HTTP, in a
// traceparent header, so that the server's own spans join the trace.
func (q *Request) Exchange(ctx context.Context, peer upstream.Peer, m *pipeline.Message) (*pipeline.Message, http.Header, func(*pipeline.Message, error)) {
	more := make([]attribute.KeyValue, 0, 4)
	if peer.Transport != "" {
		more = append(more, keyNetworkTransport.String(peer.Transport))
	}
	if peer.Name != "" {
		more = append(more, keyUpstream.String(peer.Name))
	}
	if peer.Address != "" {
		more = append(more, keyServerAddress.String(peer.Address), keyServerPort.Int(peer.Port))
	}
	sent := &Request{m: m, info: q.info, opts: q.opts}
	ctx, span := q.tracer.Start(ctx, spanName(m), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(sent.attributes(more)...))
	carrier := propagation.MapCarrier{}
	tracecontext.Inject(ctx, carrier)
	out, err := injectMeta(m, carrier)
	if err != nil {
		// A request whose params are not an object: it goes as it came,
		// and the server is told nothing.
		out = m
	}
	header := make(http.Header, len(carrier))
	for k, v := range carrier {
		header.Set(k, v)
	}
	withResult := q.opts.Arguments && m.Method == "tools/call"
	return out, header, func(answer *pipeline.Message, err error) {
		outcome(span, answer, withResult)
		if answer == nil && err != nil {
			span.SetAttributes(keyErrorType.String(errorType(err)))
			span.SetStatus(codes.Error, "")
		}
		span.End()
	}
}

// errorType is error.type for an exchange that failed without an answer.
func errorType(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "upstream_error"
}

// injectMeta returns m with each member of carrier (traceparent,
// tracestate) set in params._meta, the rest of its bytes as they were.
func injectMeta(m *pipeline.Message, carrier propagation.MapCarrier) (*pipeline.Message, error) {
	raw := m.Raw
	for _, k := range []string{"traceparent", "tracestate"} {
		v, ok := carrier[k]
		if !ok {
			continue
		}
		var err error
		if raw, err = pipeline.SetAt(raw, []string{"params", "_meta", k}, quote(v)); err != nil {
			return nil, err
		}
	}
	return pipeline.ParseEdited(raw)
}

// quote is s as a JSON string; trace context values are printable ASCII
// without quotes or backslashes (W3C), but any other is escaped anyway.
func quote(s string) []byte {
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			continue
		}
		b = append(b, c)
	}
	return append(b, '"')
}
