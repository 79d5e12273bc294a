package caddymcp

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
)

// caddyClients is front.Clients for Caddy: who sent a request, as Caddy's
// authentication handlers and its client address logic determined it.
type caddyClients struct{}

var _ front.Clients = caddyClients{}

// User is the authenticated user Caddy's auth handlers set, if any.
func (caddyClients) User(r *http.Request) string {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return ""
	}
	v, _ := repl.GetString("http.auth.user.id")
	return v
}

// Key is the client's address as Caddy determined it (honouring
// trusted_proxies), which bounds the 2026-07-28 requests a client has in
// flight.
func (caddyClients) Key(r *http.Request) string {
	ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	return ip
}

// Claims looks up the authenticated user's claims of a request as Caddy's
// authentication set them ({http.auth.user.<name>}), for stages.
func (caddyClients) Claims(r *http.Request) func(name string) (string, bool) {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return nil
	}
	return func(name string) (string, bool) { return repl.GetString("http.auth.user." + name) }
}

// PublicPath is the escaped path the client requested, before rewrites
// such as handle_path's prefix strip.
func (caddyClients) PublicPath(r *http.Request) string {
	if or, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && or.URL != nil {
		return or.URL.EscapedPath()
	}
	return r.URL.EscapedPath()
}
