package mcpauth

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
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
//	    scope <scope...> {
//	        tool <glob...>
//	        method <glob...>
//	    }
//	    hide_unauthorized
//	    max_message_size <size>
//	    cors_origins <origin...>
//	    introspection_url <url> {
//	        client_id <id>
//	        client_secret <secret>
//	        cache_size <n>
//	    }
//	}
//
// resource and at least one issuer are required.
func (a *AuthHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "resource":
			a.Resource, err = mcphttp.SingleArg(d)
		case "issuer":
			a.Issuers, err = mcphttp.AppendArgs(d, a.Issuers)
		case "jwks_url":
			a.JWKSURL, err = mcphttp.SingleArg(d)
		case "scopes_supported":
			a.ScopesSupported, err = mcphttp.AppendArgs(d, a.ScopesSupported)
		case "required_scopes":
			a.RequiredScopes, err = mcphttp.AppendArgs(d, a.RequiredScopes)
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
		case "hide_unauthorized":
			if d.NextArg() {
				return d.Errf("hide_unauthorized takes no argument, got %q", d.Val())
			}
			a.HideUnauthorized = true
		case "scope":
			rule, err := parseScopeRule(d)
			if err != nil {
				return err
			}
			a.ScopeRules = append(a.ScopeRules, rule)
		case "max_message_size":
			a.MaxMessageSize, err = mcphttp.SizeArg(d)
		case "cors_origins":
			a.CORSOrigins, err = mcphttp.AppendArgs(d, a.CORSOrigins)
		case "introspection_url":
			a.Introspection, err = parseIntrospection(d)
		default:
			return d.Errf("unrecognized mcp_auth subdirective %q", d.Val())
		}
		if err != nil {
			return err
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

// parseScopeRule parses `scope <scope...> { tool <glob...> method <glob...> }`.
func parseScopeRule(d *caddyfile.Dispenser) (ScopeRule, error) {
	rule := ScopeRule{Scopes: d.RemainingArgs()}
	if len(rule.Scopes) == 0 {
		return rule, d.Err("scope: name the scope(s) the operations need: scope <scope...> { tool <glob...> method <glob...> }")
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		args := d.RemainingArgs()
		if len(args) == 0 {
			return rule, d.ArgErr()
		}
		switch name {
		case "tool":
			rule.Tools = append(rule.Tools, args...)
		case "method":
			rule.Methods = append(rule.Methods, args...)
		default:
			return rule, d.Errf("scope: unrecognized subdirective %q (expected tool or method)", name)
		}
	}
	if err := rule.validate(); err != nil {
		return rule, d.Err(err.Error())
	}
	return rule, nil
}

// parseIntrospection parses `introspection_url <url> { client_id <id>
// client_secret <secret> cache_size <n> }`.
func parseIntrospection(d *caddyfile.Dispenser) (*IntrospectionConfig, error) {
	args := d.RemainingArgs()
	if len(args) != 1 {
		return nil, d.Err("introspection_url takes one URL: introspection_url <url> { client_id <id> client_secret <secret> }")
	}
	in := &IntrospectionConfig{URL: args[0]}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "client_id":
			in.ClientID, err = mcphttp.SingleArg(d)
		case "client_secret":
			in.ClientSecret, err = mcphttp.SingleArg(d)
		case "cache_size":
			in.CacheSize, err = mcphttp.PositiveIntArg(d)
		default:
			return nil, d.Errf("introspection_url: unrecognized subdirective %q (expected client_id, client_secret or cache_size)", d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	if in.ClientID == "" {
		return nil, d.Err("introspection_url: client_id is required (the gateway authenticates to the introspection endpoint)")
	}
	return in, nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*AuthHandler)(nil)
