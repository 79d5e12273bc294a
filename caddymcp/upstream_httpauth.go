package caddymcp

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/oauth"
)

// UpstreamAuth is how the gateway authenticates itself to an http
// upstream with credentials of its own (never the client's token).
type UpstreamAuth struct {
	// ClientCredentials gets an OAuth token by the client credentials
	// grant, cached, replaced before it expires, and sent with every
	// request to the upstream.
	ClientCredentials *ClientCredentialsAuth `json:"client_credentials,omitempty"`
}

// ClientCredentialsAuth configures the client credentials grant (RFC
// 6749 §4.4). Placeholders such as {env.CLIENT_SECRET} in token_url,
// client_id, client_secret, audience and resource are evaluated at
// provisioning.
type ClientCredentialsAuth struct {
	// TokenURL is the authorization server's token endpoint.
	TokenURL string `json:"token_url"`
	// ClientID and ClientSecret are the gateway's credentials there.
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
	// Scopes are requested (scope=), when any.
	Scopes []string `json:"scopes,omitempty"`
	// Audience is sent as audience= (Auth0's name of the API).
	Audience string `json:"audience,omitempty"`
	// Resource is sent as resource= (RFC 8707), typically the upstream's
	// canonical URI.
	Resource string `json:"resource,omitempty"`
	// AuthMethod is how the client authenticates at the token endpoint:
	// client_secret_basic (the default) or client_secret_post.
	AuthMethod string `json:"auth_method,omitempty"`
}

// wrap returns base wrapped so every request to the upstream u carries
// the gateway's token (base itself without auth); conflicting settings
// are refused.
func (a *UpstreamAuth) wrap(u *HTTPUpstream, base http.RoundTripper) (http.RoundTripper, error) {
	if a == nil {
		return base, nil
	}
	cc := a.ClientCredentials
	if cc == nil {
		return nil, errors.New("auth: say how: auth client_credentials { ... }")
	}
	if u.PassAuthorization {
		return nil, errors.New("auth client_credentials and pass_authorization both set the upstream's Authorization; keep one")
	}
	if _, ok := u.HeaderUp[http.CanonicalHeaderKey("Authorization")]; ok {
		return nil, errors.New("auth client_credentials and header_up Authorization both set the upstream's Authorization; keep one")
	}
	repl := caddy.NewReplacer()
	src, err := oauth.NewTokenSource(oauth.ClientCredentials{
		TokenURL:     repl.ReplaceKnown(cc.TokenURL, ""),
		ClientID:     repl.ReplaceKnown(cc.ClientID, ""),
		ClientSecret: repl.ReplaceKnown(cc.ClientSecret, ""),
		Scopes:       cc.Scopes,
		Audience:     repl.ReplaceKnown(cc.Audience, ""),
		Resource:     repl.ReplaceKnown(cc.Resource, ""),
		AuthMethod:   cc.AuthMethod,
	})
	if err != nil {
		return nil, fmt.Errorf("auth client_credentials: %w", err)
	}
	target, err := url.Parse(u.URL)
	if err != nil {
		return nil, err
	}
	return &oauth.Transport{Source: src, Origin: oauth.OriginOf(target), Base: base}, nil
}

// parseUpstreamAuth parses, inside an http upstream's block:
//
//	auth client_credentials {
//	    token_url     <url>
//	    client_id     <id>
//	    client_secret <secret>
//	    scopes        <scope...>
//	    audience      <audience>
//	    resource      <uri>
//	    auth_method   client_secret_basic|client_secret_post
//	}
func parseUpstreamAuth(d *caddyfile.Dispenser) (*UpstreamAuth, error) {
	args := d.RemainingArgs()
	if len(args) != 1 || args[0] != "client_credentials" {
		return nil, d.Err("auth takes the method: auth client_credentials { token_url <url> client_id <id> client_secret <secret> }")
	}
	cc := new(ClientCredentialsAuth)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := clientCredentialsKeywords.Parse("auth client_credentials", cc, d); err != nil {
			return nil, err
		}
	}
	if cc.TokenURL == "" || cc.ClientID == "" {
		return nil, d.Err("auth client_credentials: token_url and client_id are required")
	}
	return &UpstreamAuth{ClientCredentials: cc}, nil
}

// clientCredentialsKeywords are the subdirectives of an auth
// client_credentials block.
var clientCredentialsKeywords = mcphttp.Keywords[*ClientCredentialsAuth]{
	"token_url":     func(c *ClientCredentialsAuth, d dispenser) error { return read(d, &c.TokenURL, singleArg) },
	"client_id":     func(c *ClientCredentialsAuth, d dispenser) error { return read(d, &c.ClientID, singleArg) },
	"client_secret": func(c *ClientCredentialsAuth, d dispenser) error { return read(d, &c.ClientSecret, singleArg) },
	"scopes":        func(c *ClientCredentialsAuth, d dispenser) error { return mcphttp.AppendTo(d, &c.Scopes) },
	"audience":      func(c *ClientCredentialsAuth, d dispenser) error { return read(d, &c.Audience, singleArg) },
	"resource":      func(c *ClientCredentialsAuth, d dispenser) error { return read(d, &c.Resource, singleArg) },
	"auth_method":   func(c *ClientCredentialsAuth, d dispenser) error { return read(d, &c.AuthMethod, authMethodArg) },
}

// authMethodArg reads auth_method's method.
var authMethodArg = choice(oauth.ClientSecretBasic, oauth.ClientSecretPost)
