// Package caddymcp registers the caddy-mcp modules and commands with
// Caddy. Build Caddy with it: xcaddy build --with github.com/caddy-mcp/caddy-mcp
package caddymcp

import (
	// http.handlers.mcp_proxy, the mcp app, the selection policies and the mcp_proxy directive.
	_ "github.com/caddy-mcp/caddy-mcp/caddymcp"
	// admin.api.mcp_proxy: the /mcp_proxy/ routes of Caddy's admin endpoint.
	_ "github.com/caddy-mcp/caddy-mcp/caddymcp/admin"
	// caddy mcp-proxy and caddy mcp-tape.
	_ "github.com/caddy-mcp/caddy-mcp/caddymcp/commands"
	// http.handlers.mcp_console and the mcp_console directive.
	_ "github.com/caddy-mcp/caddy-mcp/caddymcp/console"
	// http.handlers.mcp_auth and the mcp_auth directive.
	_ "github.com/caddy-mcp/caddy-mcp/caddymcp/mcpauth"
	// http.matchers.mcp.
	_ "github.com/caddy-mcp/caddy-mcp/caddymcp/mcpmatcher"
	// The pipeline stages: http.handlers.mcp_proxy.stages.filter and .intercept.
	_ "github.com/caddy-mcp/caddy-mcp/caddymcp/stages"
)
