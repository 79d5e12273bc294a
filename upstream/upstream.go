// Package upstream is where messages go: the MCP servers behind the gateway.
// An Upstream opens one Conn per client session; the Conn carries messages to
// the server and hands the server's messages to a Receiver.
//
// This package holds what every kind of upstream shares: the interfaces the
// front calls (Upstream, Conn, Receiver, RelatedReceiver, Listener,
// Stateless), the errors it tells apart (ErrClosed, ErrBusy and BusyError,
// ErrReconfiguring, ErrSessionfulOnly), the GatewayError data of the error
// responses an upstream makes up, and the request-context values the front
// passes down (WithClientAuthorization, WithReclaim). The kinds live below
// it: package stdio (local servers run as subprocesses) and package remote
// (servers reached over HTTP). It imports pipeline and pool, nothing else of
// ours.
package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// ErrClosed is returned by Send after the connection ended.
var ErrClosed = errors.New("upstream connection closed")

// Receiver takes the server's side of a connection. Both methods are called
// from the connection's reader goroutine, in order, and must not block for
// long: the front appends to bounded replay buffers and returns.
type Receiver interface {
	// Deliver hands over one message from the server.
	Deliver(m *pipeline.Message)
	// Closed reports that the server side ended (process exit, EOF, error).
	// No Deliver follows it. It is not called after Conn.Close.
	Closed(err error)
}

// Conn is one client session's connection to an upstream server.
type Conn interface {
	// Send writes one message to the server. It blocks while the send
	// queue is full, until ctx is done or the connection ends.
	Send(ctx context.Context, m *pipeline.Message) error
	// Close ends the connection and the server side of the session (a
	// stdio process is stopped). It does not wait for the stop to finish.
	Close()
}

// ProcessConn is a Conn served by a process of its own (a stdio
// upstream's): the admin API shows the process's id. The id is for the
// operator only; it never goes into what a client reads.
type ProcessConn interface {
	// PID returns the id of the process serving the connection.
	PID() int
}

// Upstream opens connections to one configured server.
type Upstream interface {
	// Open starts a connection for a new client session.
	Open(ctx context.Context, r Receiver) (Conn, error)
}

// ServedConn is a Conn of an upstream made of several (a balance group):
// it names the one that serves it, for the admin API and logs.
type ServedConn interface {
	// ServedBy returns the serving upstream's name and the upstream itself.
	ServedBy() (name string, up Upstream)
}

// FederatedConn is a Conn of several MCP servers behind one endpoint (a
// federation): it names each server and what serves the session there,
// for the admin API, and the server a request goes to, for rules and
// tapes.
type FederatedConn interface {
	// ServedServers returns the session's servers in configuration order.
	ServedServers() []ServedServer
	// Resolve names the server a request of method naming target goes to
	// by the session's own lists, as the session routes it, and that
	// server's own name for target; "" for both when the session cannot
	// tell without reading the lists.
	Resolve(method, target string) (server, own string)
}

// ServedServer is one server of a FederatedConn's session.
type ServedServer struct {
	// Name is the server's configured name.
	Name string
	// Replica names the replica serving the session when the server has
	// several (ServedConn), else "".
	Replica string
	// Upstream serves the session on this server: the replica, or the
	// server's one upstream.
	Upstream Upstream
	// PID is the process serving it (ProcessConn), else 0.
	PID int
	// Down says the server is not in the session now: it failed, or has
	// not answered yet.
	Down bool
}

// ErrUnhealthy marks a BusyError from an upstream made of several when
// none of them takes new work (each failed its health check or has its
// circuit breaker open). Its text is what the client reads.
var ErrUnhealthy = errors.New("no upstream MCP server of this endpoint is healthy; retry later")

// ErrBusy means the upstream has no capacity for a new session right now
// (e.g. every process of the pool is in use). Errors matching it are
// *BusyError values that say when to retry.
var ErrBusy = errors.New("upstream busy")

// ErrReconfiguring marks a BusyError from an upstream whose configuration
// is being replaced (a reload): the client's retry reaches the new one.
var ErrReconfiguring = errors.New("the upstream is being reconfigured")

// BusyError is returned by Open when the upstream is at capacity.
type BusyError struct {
	// RetryAfter is a hint for the client's Retry-After header.
	RetryAfter time.Duration
	// Err is the underlying cause.
	Err error
}

// Error says that the upstream is busy and why.
func (e *BusyError) Error() string { return e.Err.Error() }

// Unwrap lets errors.Is match ErrBusy and the cause.
func (e *BusyError) Unwrap() []error { return []error{ErrBusy, e.Err} }

// RelatedReceiver is a Receiver that can route a server message precisely
// when the upstream knows which client request it belongs to. The HTTP
// upstream calls DeliverRelated instead of Deliver for every message that
// arrives on the response stream of a request (progress, log messages,
// server requests, and the response itself, also when the stream is resumed
// with a GET), and for the error response it makes up when that request
// fails. requestID is the client request's raw JSON id, byte for byte.
// Like Deliver, it must not block for long.
type RelatedReceiver interface {
	Receiver
	// DeliverRelated hands over one message from the server that belongs
	// to the client request with id requestID.
	DeliverRelated(m *pipeline.Message, requestID json.RawMessage)
}

// Listener is a Conn that wants to know whether the client is listening for
// messages unrelated to its requests (a client's standalone GET stream).
// The front calls Listen(true) when a client's GET stream opens and
// Listen(false) when it ends; calls may overlap (a new GET before the old
// one ended) and are counted. The HTTP upstream holds the upstream's own
// GET stream only while someone listens, plus a grace period after the last
// listener left, so that sessions whose client never listens hold none.
type Listener interface {
	// Listen reports that a client stream opened (true) or closed (false).
	Listen(on bool)
}

// Stateless is an Upstream that also serves 2026-07-28 (stateless MCP)
// requests: each request stands alone, with no session and no initialize.
type Stateless interface {
	// Call forwards one stateless request and hands the server's messages
	// for it to deliver, in order: related notifications first, the
	// response last. status is the HTTP status of the upstream's answer
	// that carried the message (200 for a stream or a plain result; an HTTP
	// upstream's 4xx with a JSON-RPC error body passes its status on so the
	// client sees what the server said); stdio upstreams always pass 200.
	//
	// Call returns after the response was delivered (nil), when ctx ends
	// (ctx.Err(): the client went away, which for 2026 clients is the
	// cancellation — the upstream work is cancelled: a stdio server gets
	// notifications/cancelled, an HTTP request is aborted), with
	// ErrSessionfulOnly when the server speaks only the 2025 revisions, or when
	// the upstream failed before answering: a stdio upstream returns an
	// error that names the cause; an HTTP upstream delivers an error response
	// of its own making instead (with the request's id and GatewayError
	// data) and returns nil. Nothing is delivered after Call returns. A request that expects no
	// response until cancelled (subscriptions/listen) delivers its
	// notifications until ctx ends.
	Call(ctx context.Context, req *StatelessRequest, deliver func(m *pipeline.Message, status int)) error
}

// ErrSessionfulOnly is returned by Stateless.Call when the upstream server
// speaks only the 2025 (session) revisions: the front then answers as a
// server of those revisions does, and the client falls back to initialize.
var ErrSessionfulOnly = errors.New("the upstream MCP server speaks only the 2025 revisions")

// StatelessRequest is one 2026-07-28 request on its way upstream.
type StatelessRequest struct {
	// Message is the client's request, byte for byte.
	Message *pipeline.Message
	// Header holds the client's MCP headers that an HTTP upstream must see
	// mirrored (MCP-Protocol-Version, Mcp-Method, Mcp-Name, Mcp-Param-*).
	// stdio upstreams ignore it.
	Header http.Header
	// User is the authenticated user of the request ("" if none). A stdio
	// upstream serves each user's requests on processes of that user's
	// own, so that users never share a process.
	User string
}
