package upstream

import (
	"context"
	"net/http"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// Traces of the exchanges with upstream servers. The front puts a Tracer in
// the context of a request it traces (WithTracer); each kind of upstream
// calls TraceExchange where it sends a request to a server, with what it
// knows of that server. Without a Tracer in the context, which is the case
// whenever tracing is off, TraceExchange changes nothing and costs one
// context lookup: the message goes byte for byte.

// Peer is the server of one exchange, as a trace names it.
type Peer struct {
	// Name is the upstream's configured name ("" when unknown).
	Name string
	// Transport is how the exchange travels: "pipe" for a stdio
	// process, "tcp" for an HTTP server.
	Transport string
	// Address and Port are an HTTP server's host and port.
	Address string
	Port    int
}

// Tracer traces a request's exchanges with upstream servers.
type Tracer interface {
	// Exchange begins the exchange of request m with peer. It returns the
	// message to send in m's place (m with the exchange's trace context in
	// params._meta), the headers an HTTP request adds (traceparent), and
	// end, which the caller calls once with the server's answer (nil if
	// none came) and the exchange's error.
	Exchange(ctx context.Context, peer Peer, m *pipeline.Message) (out *pipeline.Message, header http.Header, end func(answer *pipeline.Message, err error))
}

type tracerKey struct{}

// WithTracer returns ctx with t, which the upstream exchanges made under
// ctx report to.
func WithTracer(ctx context.Context, t Tracer) context.Context {
	return context.WithValue(ctx, tracerKey{}, t)
}

// TraceExchange begins the trace of an exchange of request m with peer,
// when ctx carries a Tracer: see Tracer.Exchange. Without one it returns m
// itself, no header and a nil end.
func TraceExchange(ctx context.Context, peer Peer, m *pipeline.Message) (*pipeline.Message, http.Header, func(*pipeline.Message, error)) {
	t, _ := ctx.Value(tracerKey{}).(Tracer)
	if t == nil || m == nil || !m.IsRequest() {
		return m, nil, nil
	}
	return t.Exchange(ctx, peer, m)
}

// PeerDescriber is an upstream that can say which server it is, for
// traces.
type PeerDescriber interface {
	// Peer describes the server.
	Peer() Peer
}

// PeerOf describes the server that serves conn, a connection opened on up:
// for an upstream made of several (ServedConn), the one serving it, named
// as the group names it.
func PeerOf(conn Conn, up Upstream) Peer {
	name := ""
	if sc, ok := conn.(ServedConn); ok {
		name, up = sc.ServedBy()
	}
	var p Peer
	if d, ok := up.(PeerDescriber); ok {
		p = d.Peer()
	}
	if p.Name == "" {
		p.Name = name
	}
	return p
}

type traceHeaderKey struct{}

// WithTraceHeader returns ctx with the headers of an exchange's trace
// context (Tracer.Exchange's), which an HTTP upstream adds to the request
// it makes for a message sent with ctx.
func WithTraceHeader(ctx context.Context, h http.Header) context.Context {
	if len(h) == 0 {
		return ctx
	}
	return context.WithValue(ctx, traceHeaderKey{}, h)
}

// TraceHeader returns the headers WithTraceHeader put in ctx, or nil.
func TraceHeader(ctx context.Context) http.Header {
	h, _ := ctx.Value(traceHeaderKey{}).(http.Header)
	return h
}
