package caddymcp

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// Which requests mcp_auth judges is decided here, by one function that
// both handlers use: mcp_auth to decide what it guards, and mcp_proxy to
// refuse a request for a guarded resource that no mcp_auth judged. The
// path is read as Caddy's path matcher reads it (lowercased, cleaned,
// doubled slashes merged), so every spelling that a `path /mcp` matcher
// routes to mcp_proxy — /MCP, //mcp, /./mcp, /x/../mcp, /%6Dcp — is one
// that mcp_auth guards too. Spellings that some other matcher folds in
// yet another way (a path_regexp, a rewrite) are caught by the second
// line: mcp_proxy asks for the judged marker that mcp_auth puts on every
// request it lets through.

// foldPath is a request path as Caddy's path matcher compares it
// (caddyhttp.MatchPath: lowercased, then cleaned with slashes merged).
func foldPath(p string) string {
	return caddyhttp.CleanPath(strings.ToLower(p), true)
}

// pathUnder reports whether the folded path p is base or below it; base
// "" is the whole site.
func pathUnder(p, base string) bool {
	return base == "" || p == base || strings.HasPrefix(p, base+"/")
}

// guardedPaths are the folded paths of r that a guard compares: the path
// as the handler sees it, and the one the client sent when a rewrite
// (handle_path, uri strip_prefix) changed it — a request is guarded when
// either is under the resource.
func guardedPaths(r *http.Request) (current, original string) {
	current = foldPath(r.URL.Path)
	original = current
	if or, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && or.URL != nil && or.URL.Path != r.URL.Path {
		original = foldPath(or.URL.Path)
	}
	return current, original
}

// guardsRequest reports whether the resource whose folded path is base
// covers r.
func guardsRequest(base string, r *http.Request) bool {
	current, original := guardedPaths(r)
	return pathUnder(current, base) || pathUnder(original, base)
}

// resourceGuard is what an mcp_auth guards, registered with the
// configuration's mcp app so that its mcp_proxy handlers know it.
type resourceGuard struct {
	auth *AuthHandler
	host string // the resource's host name, lowercased, no port
	path string // the resource's folded path, no trailing slash
}

// covers reports whether r asks for the guarded resource: its path is
// under the resource's and its Host names the resource's host. A request
// for another host is another site's business (a site without mcp_auth
// may serve the same path).
func (g resourceGuard) covers(r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.EqualFold(host, g.host) && guardsRequest(g.path, r)
}

// judgedKey is the context key of the mcp_auth handlers that let a request
// through.
type judgedKey struct{}

// judged is one mcp_auth that let a request through, and those before it.
type judged struct {
	auth *AuthHandler
	prev *judged
}

// markJudged returns r marked as let through by h.
func markJudged(r *http.Request, h *AuthHandler) *http.Request {
	prev, _ := r.Context().Value(judgedKey{}).(*judged)
	return r.WithContext(context.WithValue(r.Context(), judgedKey{}, &judged{auth: h, prev: prev}))
}

// judgedBy reports whether h let r through.
func judgedBy(r *http.Request, h *AuthHandler) bool {
	j, _ := r.Context().Value(judgedKey{}).(*judged)
	for ; j != nil; j = j.prev {
		if j.auth == h {
			return true
		}
	}
	return false
}

// addGuard registers what an mcp_auth of this configuration guards.
// The list is copied on write: it is read on every request mcp_proxy
// serves, and written only while the configuration is provisioned.
func (a *App) addGuard(g resourceGuard) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var guards []resourceGuard
	if old := a.guards.Load(); old != nil {
		guards = slices.Clone(*old)
	}
	guards = append(guards, g)
	a.guards.Store(&guards)
}

// unjudgedGuard returns the resource of an mcp_auth that covers r when
// none of the mcp_auth handlers covering it judged it, else nil.
func (a *App) unjudgedGuard(r *http.Request) *resourceGuard {
	guards := a.guards.Load()
	if guards == nil {
		return nil
	}
	var missed *resourceGuard
	for i := range *guards {
		g := &(*guards)[i]
		if !g.covers(r) {
			continue
		}
		if judgedBy(r, g.auth) {
			return nil
		}
		missed = g
	}
	return missed
}

// refuseUnjudged answers a request for a resource an mcp_auth guards that
// reached this mcp_proxy without passing that mcp_auth — its route put
// mcp_proxy first, or a matcher routed a spelling of the path that
// mcp_auth does not fold the same way. True when it answered.
func (h *Handler) refuseUnjudged(w http.ResponseWriter, r *http.Request) bool {
	if h.app == nil {
		return false
	}
	g := h.app.unjudgedGuard(r)
	if g == nil {
		return false
	}
	data := pipeline.NewErrorData()
	h.logger.Error("mcp_proxy: refused a request for a resource that mcp_auth guards but which did not pass that mcp_auth; put mcp_auth before mcp_proxy on every route to it",
		zap.String("resource", g.auth.Resource), zap.String("method", r.Method), zap.String("host", r.Host),
		zap.String("path", r.URL.Path), zap.String("correlation_id", data.CorrelationID))
	writeAuthErrorData(w, http.StatusForbidden, pipeline.CodeInvalidRequest,
		"Forbidden: this request did not pass the endpoint's authorization (mcp_auth)", data)
	return true
}
