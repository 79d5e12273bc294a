package mcpauth

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// CORS for browser-based MCP clients (such as the Inspector's web UI): a
// page on another origin first sends a preflight OPTIONS, without the
// token, which mcp_auth answers itself; the real requests' responses must
// let the page read the headers MCP clients need.
const (
	corsAllowMethods = "GET, POST, DELETE, OPTIONS"
	corsAllowHeaders = "Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID"
	corsExpose       = "Mcp-Session-Id, MCP-Protocol-Version, WWW-Authenticate"
	corsMaxAge       = "600"
)

// checkCORSOrigins requires each origin to be "*" or scheme://host[:port]
// (what a browser sends in Origin: no path, no trailing slash).
func checkCORSOrigins(origins []string) error {
	for _, o := range origins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return fmt.Errorf("cors_origins: %q is not an origin (want scheme://host[:port], as browsers send it, or *)", o)
		}
	}
	return nil
}

// corsAllowed reports whether origin may use the resource from a browser.
func (h *AuthHandler) corsAllowed(origin string) bool {
	return origin != "" && (slices.Contains(h.CORSOrigins, "*") || slices.Contains(h.CORSOrigins, origin))
}

// answerCORS adds the CORS response headers for an allowed Origin and
// answers a preflight (OPTIONS with Access-Control-Request-Method), which
// carries no token; it reports whether it answered. Requests without an
// Origin are not cross-origin and get nothing.
func (h *AuthHandler) answerCORS(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if origin == "" || (len(h.CORSOrigins) == 0 && !preflight) {
		return false
	}
	hdr := w.Header()
	hdr.Add("Vary", "Origin")
	if !h.corsAllowed(origin) {
		if preflight {
			mcphttp.WriteError(w, http.StatusForbidden, pipeline.CodeInvalidRequest,
				"Forbidden: cross-origin requests from "+quoteForClient(origin)+" are not allowed; add the origin to mcp_auth's cors_origins (and mcp_proxy's allowed_origins)")
			return true
		}
		return false // mcp_proxy's Origin check has the last word
	}
	hdr.Set("Access-Control-Allow-Origin", origin)
	hdr.Set("Access-Control-Expose-Headers", corsExpose)
	if !preflight {
		return false
	}
	hdr.Add("Vary", "Access-Control-Request-Method")
	hdr.Add("Vary", "Access-Control-Request-Headers")
	hdr.Set("Access-Control-Allow-Methods", corsAllowMethods)
	hdr.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	hdr.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
	return true
}

// quoteForClient quotes a client-sent value for an error message, cut
// short so a long header cannot bloat the answer.
func quoteForClient(s string) string {
	const limit = 200
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return mcphttp.Quote(strings.ToValidUTF8(s, "?"))
}
