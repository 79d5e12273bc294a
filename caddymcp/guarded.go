package caddymcp

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// refuseUnjudged answers a request for a resource an mcp_auth guards that
// reached this mcp_proxy without passing that mcp_auth — its route put
// mcp_proxy first, or a matcher routed a spelling of the path that
// mcp_auth does not fold the same way. True when it answered.
func (h *Handler) refuseUnjudged(w http.ResponseWriter, r *http.Request) bool {
	if h.app == nil {
		return false
	}
	g := h.app.shared.UnjudgedGuard(r)
	if g == nil {
		return false
	}
	data := pipeline.NewErrorData()
	h.logger.Error("mcp_proxy: refused a request for a resource that mcp_auth guards but which did not pass that mcp_auth; put mcp_auth before mcp_proxy on every route to it",
		zap.String("resource", g.Resource), zap.String("method", r.Method), zap.String("host", r.Host),
		zap.String("path", r.URL.Path), zap.String("correlation_id", data.CorrelationID))
	mcphttp.WriteErrorData(w, http.StatusForbidden, pipeline.CodeInvalidRequest,
		"Forbidden: this request did not pass the endpoint's authorization (mcp_auth)", data)
	return true
}
