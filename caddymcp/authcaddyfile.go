package caddymcp

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("mcp_auth", parseAuthCaddyfile)
	// Early, so it runs before mcp_proxy; the anchor must be a standard
	// directive (Caddy panics on any other).
	httpcaddyfile.RegisterDirectiveOrder("mcp_auth", httpcaddyfile.After, "forward_auth")
}

func parseAuthCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	a := new(AuthHandler)
	err := a.UnmarshalCaddyfile(h.Dispenser)
	return a, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	mcp_auth [<matcher>] {
//	    resource <uri>
//	    issuer <url...>
//	    jwks_url <url>
//	    scopes_supported <scope...>
//	    required_scopes <scope...>
//	    leeway <duration>
//	    keep_authorization
//	}
//
// resource and at least one issuer are required.
func (a *AuthHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "resource":
			if !d.NextArg() {
				return d.ArgErr()
			}
			a.Resource = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		case "issuer":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			a.Issuers = append(a.Issuers, args...)
		case "jwks_url":
			if !d.NextArg() {
				return d.ArgErr()
			}
			a.JWKSURL = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		case "scopes_supported":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			a.ScopesSupported = append(a.ScopesSupported, args...)
		case "required_scopes":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			a.RequiredScopes = append(a.RequiredScopes, args...)
		case "leeway":
			if !d.NextArg() {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(d.Val())
			if err != nil {
				return d.Errf("leeway: %v", err)
			}
			a.Leeway = caddy.Duration(dur)
			if d.NextArg() {
				return d.ArgErr()
			}
		case "keep_authorization":
			if d.NextArg() {
				return d.ArgErr()
			}
			a.KeepAuthorization = true
		default:
			return d.Errf("unrecognized mcp_auth subdirective %q", d.Val())
		}
	}
	if a.Resource == "" {
		return d.Err("mcp_auth: resource <uri> is required (the canonical URI of this MCP endpoint, which tokens must name as audience)")
	}
	if len(a.Issuers) == 0 {
		return d.Err("mcp_auth: at least one issuer <url> is required")
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*AuthHandler)(nil)
