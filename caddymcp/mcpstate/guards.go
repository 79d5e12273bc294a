package mcpstate

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
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

// FoldPath is a request path as Caddy's path matcher compares it
// (caddyhttp.MatchPath: lowercased, then cleaned with slashes merged).
func FoldPath(p string) string {
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
	current = FoldPath(r.URL.Path)
	original = current
	if or, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && or.URL != nil && or.URL.Path != r.URL.Path {
		original = FoldPath(or.URL.Path)
	}
	return current, original
}

// GuardsRequest reports whether the resource whose folded path is base
// covers r.
func GuardsRequest(base string, r *http.Request) bool {
	current, original := guardedPaths(r)
	return pathUnder(current, base) || pathUnder(original, base)
}

// Guard is what an mcp_auth guards, registered with the
// configuration's mcp app so that its mcp_proxy handlers know it.
type Guard struct {
	Auth     any    // the mcp_auth handler: who must have judged a request (MarkJudged)
	Resource string // its resource, for the log
	Host     string // the resource's host name, lowercased, no port
	Path     string // the resource's folded path, no trailing slash
}

// covers reports whether r asks for the guarded resource: its path is
// under the resource's and its Host names the resource's host. A request
// for another host is another site's business (a site without mcp_auth
// may serve the same path).
func (g Guard) covers(r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.EqualFold(host, g.Host) && GuardsRequest(g.Path, r)
}

// judgedKey is the context key of the mcp_auth handlers that let a request
// through.
type judgedKey struct{}

// judged is one mcp_auth that let a request through, and those before it.
type judged struct {
	auth any
	prev *judged
}

// MarkJudged returns r marked as let through by h.
func MarkJudged(r *http.Request, h any) *http.Request {
	prev, _ := r.Context().Value(judgedKey{}).(*judged)
	return r.WithContext(context.WithValue(r.Context(), judgedKey{}, &judged{auth: h, prev: prev}))
}

// JudgedBy reports whether h let r through.
func JudgedBy(r *http.Request, h any) bool {
	j, _ := r.Context().Value(judgedKey{}).(*judged)
	for ; j != nil; j = j.prev {
		if j.auth == h {
			return true
		}
	}
	return false
}

// AddGuard registers what an mcp_auth of this configuration guards.
// The list is copied on write: it is read on every request mcp_proxy
// serves, and written only while the configuration is provisioned.
func (a *Shared) AddGuard(g Guard) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var guards []Guard
	if old := a.guards.Load(); old != nil {
		guards = slices.Clone(*old)
	}
	guards = append(guards, g)
	a.guards.Store(&guards)
}

// UnjudgedGuard returns the resource of an mcp_auth that covers r when
// none of the mcp_auth handlers covering it judged it, else nil.
func (a *Shared) UnjudgedGuard(r *http.Request) *Guard {
	guards := a.guards.Load()
	if guards == nil {
		return nil
	}
	var missed *Guard
	for i := range *guards {
		g := &(*guards)[i]
		if !g.covers(r) {
			continue
		}
		if JudgedBy(r, g.Auth) {
			return nil
		}
		missed = g
	}
	return missed
}
