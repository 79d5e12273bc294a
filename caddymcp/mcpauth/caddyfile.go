package mcpauth

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/pipeline/glob"
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
		if err := authKeywords.Parse("mcp_auth", a, d); err != nil {
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
		if err := scopeKeywords.Parse("scope", &rule, d); err != nil {
			return rule, err
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
		if err := introspectionKeywords.Parse("introspection_url", in, d); err != nil {
			return nil, err
		}
	}
	if in.ClientID == "" {
		return nil, d.Err("introspection_url: client_id is required (the gateway authenticates to the introspection endpoint)")
	}
	return in, nil
}

// dispenser is short for the parsers' signatures.
type dispenser = *caddyfile.Dispenser

// authKeywords are the subdirectives of mcp_auth: it dispatches on them,
// and an unknown one's error lists them.
var authKeywords = mcphttp.Keywords[*AuthHandler]{
	"resource":           func(a *AuthHandler, d dispenser) error { return mcphttp.Read(d, &a.Resource, mcphttp.SingleArg) },
	"issuer":             func(a *AuthHandler, d dispenser) error { return mcphttp.AppendTo(d, &a.Issuers) },
	"jwks_url":           func(a *AuthHandler, d dispenser) error { return mcphttp.Read(d, &a.JWKSURL, mcphttp.SingleArg) },
	"scopes_supported":   func(a *AuthHandler, d dispenser) error { return mcphttp.AppendTo(d, &a.ScopesSupported) },
	"required_scopes":    func(a *AuthHandler, d dispenser) error { return mcphttp.AppendTo(d, &a.RequiredScopes) },
	"leeway":             func(a *AuthHandler, d dispenser) error { return mcphttp.Read(d, &a.Leeway, leewayArg) },
	"keep_authorization": func(a *AuthHandler, d dispenser) error { return mcphttp.FlagArg(d, &a.KeepAuthorization) },
	"hide_unauthorized":  func(a *AuthHandler, d dispenser) error { return mcphttp.FlagArg(d, &a.HideUnauthorized) },
	"scope":              (*AuthHandler).parseScopeLine,
	"max_message_size":   func(a *AuthHandler, d dispenser) error { return mcphttp.Read(d, &a.MaxMessageSize, mcphttp.SizeArg) },
	"cors_origins":       func(a *AuthHandler, d dispenser) error { return mcphttp.AppendTo(d, &a.CORSOrigins) },
	"introspection_url":  func(a *AuthHandler, d dispenser) error { return mcphttp.Read(d, &a.Introspection, parseIntrospection) },
}

// scopeKeywords are the subdirectives of a scope block.
var scopeKeywords = mcphttp.Keywords[*ScopeRule]{
	"tool":   func(r *ScopeRule, d dispenser) error { return mcphttp.GlobArgs(d, "scope", glob.NameOrURI, &r.Tools) },
	"method": func(r *ScopeRule, d dispenser) error { return mcphttp.GlobArgs(d, "scope", glob.Name, &r.Methods) },
}

// introspectionKeywords are the subdirectives of an introspection_url block.
var introspectionKeywords = mcphttp.Keywords[*IntrospectionConfig]{
	"client_id": func(c *IntrospectionConfig, d dispenser) error {
		return mcphttp.Read(d, &c.ClientID, mcphttp.SingleArg)
	},
	"client_secret": func(c *IntrospectionConfig, d dispenser) error {
		return mcphttp.Read(d, &c.ClientSecret, mcphttp.SingleArg)
	},
	"cache_size": func(c *IntrospectionConfig, d dispenser) error {
		return mcphttp.Read(d, &c.CacheSize, mcphttp.PositiveIntArg)
	},
}

func (a *AuthHandler) parseScopeLine(d dispenser) error {
	rule, err := parseScopeRule(d)
	if err == nil {
		a.ScopeRules = append(a.ScopeRules, rule)
	}
	return err
}

// leewayArg reads leeway's duration, which may be zero.
func leewayArg(d dispenser) (caddy.Duration, error) {
	name := d.Val()
	s, err := mcphttp.SingleArg(d)
	if err != nil {
		return 0, err
	}
	dur, err := mcphttp.ParseDuration(s)
	if err != nil {
		return 0, d.Errf("%s: %v", name, err)
	}
	return caddy.Duration(dur), nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*AuthHandler)(nil)
