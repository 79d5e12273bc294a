//go:build !caddymcp_noobserve

package caddymcp

// observeRequests is true in every normal build: mcp_proxy counts requests,
// streams and reconnections in its metrics and sets the {http.mcp.*}
// placeholders and access-log fields. Building with the tag
// caddymcp_noobserve turns all of that off, for the benchmark that
// measures what it costs (caddytest/bench, target caddy-mcp-stdio-noobserve).
const observeRequests = true
