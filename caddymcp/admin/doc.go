// Package admin is the admin.api.mcp_proxy module: every /mcp_proxy/ route
// of Caddy's admin endpoint, one file per resource (sessions, upstreams,
// recordings and their transcripts, calls, held messages) and their JSON
// in schema.go. Its handlers read caddymcp/mcpstate, the state that
// outlives reloads, since Caddy makes a fresh instance at each config
// load.
//
// It may import caddy, caddymcp/mcpstate, caddymcp/internal/mcphttp,
// caddymcp/front and the plain-Go packages (pipeline, upstream, pool,
// tape); never another module package of caddymcp.
package admin
