// Package mcphttp holds what caddy-mcp's HTTP modules share that is not
// state: reading the JSON-RPC envelope of a POST before mcp_proxy (the mcp
// matcher, mcp_auth's scopes), the {http.mcp.*} placeholders, the
// JSON-RPC error answer of a whole request, the 405 of admin routes and
// the Caddyfile argument and keyword helpers. Globs are pipeline/glob's.
//
// It may import caddy, caddymcp/front and pipeline; never a module
// package of caddymcp.
package mcphttp
