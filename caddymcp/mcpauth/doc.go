// Package mcpauth is the http.handlers.mcp_auth module and its mcp_auth
// directive: it checks OAuth 2.1 access tokens (with caddymcp/oauth) for
// an MCP resource, per-tool and per-method scopes, hide_unauthorized, CORS
// for browser clients and the protected resource metadata. What it guards
// and whether it hides it tells mcp_proxy through caddymcp/mcpstate.
//
// It may import caddy, caddymcp/oauth, caddymcp/mcpstate,
// caddymcp/internal/mcphttp and pipeline; never another module package of
// caddymcp.
package mcpauth
