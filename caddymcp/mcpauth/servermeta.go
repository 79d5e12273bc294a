package mcpauth

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/oauth"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// serverMetadataPath is where MCP clients of the 2025-03-26 revision look
// for the authorization server's metadata: on the MCP server's own origin
// (that revision has no protected resource metadata).
const serverMetadataPath = "/.well-known/oauth-authorization-server"

// setUpServerMetadata prepares serving the (first) issuer's metadata at
// serverMetadataPath of the resource's origin — unless the issuer's own
// RFC 8414 document is that very URL (the authorization server shares the
// origin, and serves it itself: fetching it would ask this handler).
func (h *AuthHandler) setUpServerMetadata(resource *url.URL) error {
	meta, err := oauth.NewServerMetadata(h.Issuers[0], nil)
	if err != nil {
		return err
	}
	here := (&url.URL{Scheme: resource.Scheme, Host: resource.Host, Path: serverMetadataPath}).String()
	if meta.Locations()[0] == here {
		return nil
	}
	h.serverMetadata = meta
	return nil
}

// serveServerMetadata answers the issuer's metadata document as the
// issuer serves it (fetched once, kept an hour).
func (h *AuthHandler) serveServerMetadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		mcphttp.WriteError(w, http.StatusMethodNotAllowed, pipeline.CodeInvalidRequest,
			"Method Not Allowed: the authorization server metadata is read with GET")
		return
	}
	doc, err := h.serverMetadata.Document(r.Context())
	if err != nil {
		var ue *oauth.UnavailableError
		if !errors.As(err, &ue) { // the client went away meanwhile
			return
		}
		data := pipeline.NewErrorData()
		h.logger.Warn("mcp_auth: cannot serve the authorization server metadata: the issuer's metadata is unavailable",
			zap.String("issuer", h.Issuers[0]), zap.String("correlation_id", data.CorrelationID), zap.Error(ue.Err))
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(ue.RetryAfter.Seconds()))))
		mcphttp.WriteErrorData(w, http.StatusServiceUnavailable, pipeline.CodeInternalError,
			"Service Unavailable: the authorization server's metadata cannot be fetched now; retry later", data)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(doc)))
	hdr.Set("Cache-Control", "max-age=3600")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(doc)
	}
}
