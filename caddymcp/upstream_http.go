package caddymcp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/remote"
)

// HTTPUpstream is a remote MCP server reached over Streamable HTTP or,
// for servers of the 2024-11-05 revision, over HTTP+SSE.
type HTTPUpstream struct {
	// URL is the upstream's MCP endpoint, e.g. https://mcp.example.com/mcp
	// (for an HTTP+SSE server, its SSE endpoint, e.g. https://mcp.example.com/sse).
	URL string `json:"url"`
	// MCPTransport is the MCP transport the upstream speaks: "streamable"
	// (Streamable HTTP, 2025-03-26 and later), "sse" (the HTTP+SSE
	// transport of 2024-11-05) or "auto" (the default: the first session's
	// initialize goes as Streamable HTTP; a bare 400, 404 or 405 to it means
	// HTTP+SSE; the answer is remembered until the configuration is reloaded).
	MCPTransport string `json:"mcp_transport,omitempty"`
	// HeaderUp sets request headers sent upstream (e.g. the upstream's own
	// credentials). Values may use placeholders; they are evaluated once,
	// when the client's initialize creates the upstream session.
	HeaderUp http.Header `json:"header_up,omitempty"`
	// PassAuthorization forwards the client's Authorization header: each
	// request's own, so a client that refreshes its token is not held to the
	// one it initialized with. The MCP
	// specification forbids token passthrough: enable it only for an
	// upstream that validates the very token the client presents.
	PassAuthorization bool `json:"pass_authorization,omitempty"`
	// Transport configures connections to the upstream — dial timeout, TLS
	// (trusted CAs, client certificate, server name, insecure skip verify) —
	// with the fields of reverse_proxy's http transport.
	Transport *reverseproxy.HTTPTransport `json:"transport,omitempty"`
	// ResponseHeaderTimeout bounds the wait for the upstream's response headers (default 30s).
	ResponseHeaderTimeout caddy.Duration `json:"response_header_timeout,omitempty"`
	// IdleTimeout ends an upstream SSE stream that sent nothing, not even a keep-alive, for this long (default: no limit).
	IdleTimeout caddy.Duration `json:"idle_timeout,omitempty"`
	// Auth gives the gateway credentials of its own for the upstream
	// (OAuth client credentials), sent with every request (upstream_httpauth.go).
	Auth *UpstreamAuth `json:"auth,omitempty"`

	onReconnect func(remote.Reconnect) // counts reconnections in the endpoint's metrics
}

// MCP transports of an HTTP upstream (HTTPUpstream.MCPTransport).
const (
	mcpTransportStreamable = "streamable"
	mcpTransportSSE        = "sse"
	mcpTransportAuto       = "auto"
)

// validMCPTransport reports whether t is a valid MCPTransport ("" is auto).
func validMCPTransport(t string) bool {
	switch t {
	case "", mcpTransportStreamable, mcpTransportSSE, mcpTransportAuto:
		return true
	}
	return false
}

// build provisions the transport and returns the upstream.
func (u *HTTPUpstream) build(ctx caddy.Context, name string, maxMessageSize, maxInFlight int, verboseErrors bool) (upstream.Upstream, error) {
	if !validMCPTransport(u.MCPTransport) {
		return nil, fmt.Errorf("mcp_transport must be streamable, sse or auto, got %q", u.MCPTransport)
	}
	if u.Transport == nil {
		u.Transport = new(reverseproxy.HTTPTransport)
	}
	if err := u.Transport.Provision(ctx); err != nil {
		return nil, fmt.Errorf("http transport: %v", err)
	}
	rt, authErr := u.Auth.wrap(u, u.Transport.Transport) // upstream_httpauth.go
	if authErr != nil {
		return nil, authErr
	}
	cfg := remote.Config{
		URL:                   u.URL,
		Name:                  name,
		Transport:             rt,
		Headers:               u.headers,
		PassAuthorization:     u.PassAuthorization,
		VerboseErrors:         verboseErrors,
		ResponseHeaderTimeout: time.Duration(u.ResponseHeaderTimeout),
		IdleTimeout:           time.Duration(u.IdleTimeout),
		MaxMessageSize:        maxMessageSize,
		MaxInFlight:           maxInFlight,
		Logger:                ctx.Logger().Named("http").With(zapUpstream(name)),
		OnReconnect:           u.onReconnect,
	}
	var (
		up  upstream.Upstream
		err error
	)
	// Each branch keeps a nil pointer out of the interface on error.
	switch u.MCPTransport {
	case mcpTransportStreamable:
		var h *remote.HTTP
		if h, err = remote.NewHTTP(cfg); err == nil {
			up = h
		}
	case mcpTransportSSE:
		var l *remote.SSE2024
		if l, err = remote.NewSSE2024(cfg); err == nil {
			up = l
		}
	default:
		var a *remote.Auto
		if a, err = remote.NewAuto(cfg); err == nil {
			up = a
		}
	}
	return up, err
}

// headers evaluates header_up (and the opt-in Authorization passthrough)
// with the replacer of the client request that creates the session.
func (u *HTTPUpstream) headers(ctx context.Context) http.Header {
	repl, _ := ctx.Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl == nil {
		repl = caddy.NewReplacer()
	}
	h := make(http.Header, len(u.HeaderUp)+1)
	for field, values := range u.HeaderUp {
		for _, v := range values {
			h.Add(field, repl.ReplaceAll(v, ""))
		}
	}
	if u.PassAuthorization {
		if auth, _ := repl.GetString("http.request.header.Authorization"); auth != "" {
			h.Set("Authorization", auth)
		}
	}
	return h
}

// key identifies the upstream configuration, for the derived endpoint name.
func (u *HTTPUpstream) key() string {
	b, _ := json.Marshal(u)
	return "http:" + hashKey(b)
}

// cleanup releases the transport's idle connections.
func (u *HTTPUpstream) cleanup() error {
	if u.Transport != nil {
		return u.Transport.Cleanup()
	}
	return nil
}

// transport is the upstream's HTTP transport, made on first use by the
// subdirectives that set one of its fields.
func (u *HTTPUpstream) transport() *reverseproxy.HTTPTransport {
	if u.Transport == nil {
		u.Transport = new(reverseproxy.HTTPTransport)
	}
	return u.Transport
}

// tlsConfig is the transport's TLS configuration, made on first use.
func (u *HTTPUpstream) tlsConfig() *reverseproxy.TLSConfig {
	t := u.transport()
	if t.TLS == nil {
		t.TLS = new(reverseproxy.TLSConfig)
	}
	return t.TLS
}
