// Package caddymcp registers the caddy-mcp modules with Caddy. Build Caddy
// with it: xcaddy build --with github.com/caddy-mcp/caddy-mcp
package caddymcp

import (
	// The modules: http.handlers.mcp_proxy, the mcp app, the mcp_proxy directive.
	_ "github.com/caddy-mcp/caddy-mcp/caddymcp"
)
