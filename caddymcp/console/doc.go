// Package console is the http.handlers.mcp_console module and its
// mcp_console directive: a browser page (index.html, console.js,
// console.css, embedded) over the same routes as the admin API, which it
// finds in Caddy's module registry (admin.api.mcp_proxy) rather than
// importing caddymcp/admin.
//
// It may import caddy and caddymcp/internal/mcphttp; never another module
// package of caddymcp.
package console
