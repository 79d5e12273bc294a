// Package commands adds caddy mcp-proxy (a gateway in front of one MCP
// server, with no Caddyfile) and caddy mcp-tape (show and verify tapes) to
// Caddy's command line.
//
// It may import caddy, caddymcp (the mcp_proxy configuration it builds)
// and tape; no module package imports it.
package commands
