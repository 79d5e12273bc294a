package mcpauth

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/oauth"
)

// setUser makes the token's subject Caddy's authenticated user, as
// caddyauth does: {http.auth.user.id} is the subject (with several
// issuers "<issuer>#<subject>", since subjects are unique only per
// issuer), and the token's scalar claims are {http.auth.user.<claim>}
// (arrays of scalars comma-joined), with the granted scopes
// space-joined in {http.auth.user.scopes}. mcp_proxy binds sessions to
// the id.
func (h *AuthHandler) setUser(r *http.Request, c *oauth.Claims) {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return
	}
	for k, v := range c.All {
		if s, ok := claimString(v); ok && placeholderSafe(k) {
			repl.Set("http.auth.user."+k, s)
		}
	}
	repl.Set("http.auth.user.scopes", strings.Join(c.Scopes, " "))
	id := c.Subject
	if h.validator.IssuerCount() > 1 {
		id = c.Issuer + "#" + c.Subject
	}
	repl.Set("http.auth.user.id", id)
}

// claimString renders a claim for a placeholder; objects are left out.
func claimString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := claimString(e)
			if !ok {
				return "", false
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), true
	}
	return "", false
}

// placeholderSafe keeps claim names that read as placeholder keys (no
// braces, spaces or URL-like namespaced claim names).
func placeholderSafe(k string) bool {
	if k == "" || k == "id" || k == mcpstate.HiddenClaim { // mcpstate.HiddenClaim is mcp_auth's own, never the token's
		return false
	}
	for _, r := range k {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
