// Package stages holds the pipeline stages of mcp_proxy as Caddy guest
// modules of the http.handlers.mcp_proxy.stages namespace — filter and
// intercept — and their Caddyfile: mcp_proxy's intercept, max_held, tools,
// prompts and resources subdirectives, which mcp_proxy hands to the stage
// module they set up (caddyfile.Unmarshaler).
//
// It may import caddy, caddymcp/mcpstate (the held-message registry, the
// interception counter) and pipeline; never another module package of
// caddymcp, mcp_proxy's (package caddymcp) included: mcp_proxy finds the
// stages through Caddy's module registry.
package stages

// namespace is caddymcp.StagesNamespace, which a guest module of
// mcp_proxy's need not import mcp_proxy for.
const namespace = "http.handlers.mcp_proxy.stages"
