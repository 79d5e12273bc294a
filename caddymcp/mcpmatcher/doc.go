// Package mcpmatcher is the http.matchers.mcp request matcher: it matches
// MCP POSTs by JSON-RPC method and tool name, and sets the {http.mcp.*}
// placeholders (caddymcp/internal/mcphttp, which mcp_proxy sets too) for
// the handlers after it.
//
// It may import caddy, caddymcp/internal/mcphttp and pipeline; never
// another module package of caddymcp.
package mcpmatcher
