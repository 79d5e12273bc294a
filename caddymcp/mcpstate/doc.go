// Package mcpstate is the state caddy-mcp's Caddy modules share: what
// must outlive a config reload (session stores, stdio process pools and
// the upstreams' member states, recorders, the held-message registry, the
// call logs, the interception counter, pin_tools' pin books), and what the modules of one
// configuration tell each other through the mcp app (mcp_auth's guards
// and hide_unauthorized). mcp_proxy (package caddymcp) and mcp_auth write
// it; the admin API and the console read it, so no module package imports
// another.
//
// It may import caddy, caddymcp/front and the plain-Go packages below
// (pipeline, upstream, pool, tape); never a module package of caddymcp.
package mcpstate
