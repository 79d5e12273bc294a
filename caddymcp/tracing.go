package caddymcp

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// Spans of MCP requests (caddymcp/mcptrace) are made when the site has
// Caddy's tracing handler before mcp_proxy: the front starts them from the
// span in the request's context, whose tracer provider the tracing
// handler configured from the OTEL_* environment. The endpoint's own part
// is the opt-in to tool arguments and results on spans, and the tap that
// turns the pipeline's verdicts into span events (pipeline.go).

// parseTraceArguments parses `trace_arguments`, which takes no argument.
func (h *Handler) parseTraceArguments(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	h.TraceArguments = true
	return nil
}
