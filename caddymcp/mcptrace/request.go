// Package mcptrace makes the spans of MCP requests through the gateway, by
// OpenTelemetry's semantic conventions for MCP: a SERVER span per client
// request, a CLIENT span per exchange with an upstream server, and span
// events for the pipeline's verdicts. It uses the tracer provider of the
// span Caddy's tracing handler put in the request's context (Caddy sets no
// global provider); with no recording span there, nothing is made and
// nothing is changed. It is plain Go: the front calls Start and End, the
// upstreams reach Exchange through upstream.TraceExchange, and the chain
// tells Tap its verdicts.
package mcptrace

import (
	"context"
	"net/http"
	"strconv"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// instrumentation is the name of the tracer, the module's path.
const instrumentation = "github.com/caddy-mcp/caddy-mcp"

// Options shape the spans of an endpoint.
type Options struct {
	// Arguments puts a tools/call's arguments and result on its spans
	// (gen_ai.tool.call.arguments, gen_ai.tool.call.result). Off by
	// default: they may hold what the operator's trace store must not.
	Arguments bool
}

// Info is what the front knows of a request besides its message.
type Info struct {
	// SessionID is the session id the client holds ("" for none).
	SessionID string
	// ProtocolVersion is the revision the request is served at.
	ProtocolVersion string
}

// Request is the trace of one MCP request at the gateway. A nil *Request
// (a request not traced) does nothing.
type Request struct {
	span   trace.Span
	tracer trace.Tracer
	opts   Options
	m      *pipeline.Message
	info   Info

	once sync.Once // End
}

type requestKey struct{}

// tracecontext is the W3C propagation of traceparent and tracestate, the
// one the MCP conventions carry in params._meta.
var tracecontext propagation.TraceContext

// Start begins the SERVER span of request m, which arrived on r, when
// r's context holds a recording span (Caddy's tracing handler's). Its
// parent is the trace context the client put in params._meta when there is
// one, with Caddy's HTTP span as a link, else Caddy's span. The context
// returned carries the span, the Request (for Tap) and the upstream.Tracer
// of its exchanges. Otherwise it returns r's context and nil, having
// allocated nothing.
func Start(r *http.Request, m *pipeline.Message, info Info, opts Options) (context.Context, *Request) {
	ctx := r.Context()
	caddySpan := trace.SpanFromContext(ctx)
	if !caddySpan.IsRecording() || m == nil || !m.IsRequest() {
		return ctx, nil
	}
	q := &Request{tracer: caddySpan.TracerProvider().Tracer(instrumentation), opts: opts, m: m, info: info}
	parent := ctx
	startOpts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(q.attributes(nil)...),
	}
	if sc := clientContext(m); sc.IsValid() {
		parent = trace.ContextWithRemoteSpanContext(ctx, sc)
		startOpts = append(startOpts, trace.WithLinks(trace.Link{SpanContext: caddySpan.SpanContext()}))
	}
	ctx, q.span = q.tracer.Start(parent, spanName(m), startOpts...)
	ctx = context.WithValue(ctx, requestKey{}, q)
	return upstream.WithTracer(ctx, q), q
}

// FromContext returns the Request Start put in ctx, or nil.
func FromContext(ctx context.Context) *Request {
	q, _ := ctx.Value(requestKey{}).(*Request)
	return q
}

// End ends the span with the answer the client gets (nil: none, e.g. the
// client went away first). Only the first call counts.
func (q *Request) End(answer *pipeline.Message) {
	if q == nil {
		return
	}
	q.once.Do(func() {
		outcome(q.span, answer, q.opts.Arguments && q.m.Method == "tools/call")
		q.span.End()
	})
}

// attributes are the span's attributes that q's request gives, followed
// by more.
func (q *Request) attributes(more []attribute.KeyValue) []attribute.KeyValue {
	m := q.m
	attrs := make([]attribute.KeyValue, 0, 8+len(more))
	attrs = append(attrs, keyMethod.String(m.Method), keyRequestID.String(requestID(m.ID)))
	if q.info.SessionID != "" {
		attrs = append(attrs, keySession.String(q.info.SessionID))
	}
	if q.info.ProtocolVersion != "" {
		attrs = append(attrs, keyProtocol.String(q.info.ProtocolVersion))
	}
	target := m.Target()
	switch m.Method {
	case "tools/call":
		attrs = append(attrs, keyToolName.String(target), opExecuteTool)
		if q.opts.Arguments {
			if args, ok := pipeline.ValueAt(m.Params, []string{"arguments"}); ok {
				attrs = append(attrs, keyToolArguments.String(string(args)))
			}
		}
	case "prompts/get":
		attrs = append(attrs, keyPromptName.String(target))
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		attrs = append(attrs, keyResourceURI.String(target))
	}
	return append(attrs, more...)
}

// spanName is `{mcp.method.name} {target}` for a request that names a tool
// or a prompt, else the method alone: a resource URI is never part of the
// name (it may be long, or secret).
func spanName(m *pipeline.Message) string {
	switch m.Method {
	case "tools/call", "prompts/get":
		if t := m.Target(); t != "" {
			return m.Method + " " + t
		}
	}
	return m.Method
}

// requestID is a JSON-RPC id as the attribute shows it: a string's text, a
// number's digits.
func requestID(id []byte) string {
	if s, err := strconv.Unquote(string(id)); err == nil {
		return s
	}
	return string(id)
}

// clientContext is the trace context the client sent in params._meta
// (traceparent, tracestate), or an invalid one.
func clientContext(m *pipeline.Message) trace.SpanContext {
	parent := metaString(m, "traceparent")
	if parent == "" {
		return trace.SpanContext{}
	}
	carrier := propagation.MapCarrier{"traceparent": parent}
	if state := metaString(m, "tracestate"); state != "" {
		carrier["tracestate"] = state
	}
	return trace.SpanContextFromContext(tracecontext.Extract(context.Background(), carrier))
}

// metaString is the string params._meta[key] of m, or "".
func metaString(m *pipeline.Message, key string) string {
	raw, ok := pipeline.ValueAt(m.Params, []string{"_meta", key})
	if !ok {
		return ""
	}
	s, err := strconv.Unquote(string(raw))
	if err != nil {
		return ""
	}
	return s
}

// outcome sets what answer says on span: error.type and
// rpc.response.status_code for a JSON-RPC error, error.type tool_error for
// a tool's isError result, and with withResult the result itself.
func outcome(span trace.Span, answer *pipeline.Message, withResult bool) {
	switch {
	case answer == nil:
	case answer.Error != nil:
		code := "unknown"
		if raw, ok := pipeline.ValueAt(answer.Error, []string{"code"}); ok {
			code = string(raw)
		}
		span.SetAttributes(keyErrorType.String(code), keyRPCStatus.String(code))
		msg := ""
		if raw, ok := pipeline.ValueAt(answer.Error, []string{"message"}); ok {
			msg, _ = strconv.Unquote(string(raw))
		}
		span.SetStatus(codes.Error, msg)
	default:
		if raw, ok := pipeline.ValueAt(answer.Result, []string{"isError"}); ok && string(raw) == "true" {
			span.SetAttributes(keyErrorType.String(errorTypeToolError))
			span.SetStatus(codes.Error, errorTypeToolError)
		}
		if withResult {
			span.SetAttributes(keyToolResult.String(string(answer.Result)))
		}
	}
}

// Carry returns to with the trace of the request in from, if any: for work
// on the request that runs under another context (a held request goes on
// under its session's).
func Carry(from, to context.Context) context.Context {
	q := FromContext(from)
	if q == nil {
		return to
	}
	to = trace.ContextWithSpan(to, q.span)
	return upstream.WithTracer(context.WithValue(to, requestKey{}, q), q)
}
