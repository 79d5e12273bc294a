package console

import (
	"net/http"
	"path"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
)

func init() {
	caddy.RegisterModule(Console{})
	httpcaddyfile.RegisterHandlerDirective("mcp_console", parseConsoleCaddyfile)
	// Where reverse_proxy would go: after basic_auth, forward_auth and
	// mcp_auth, so the operator's auth runs first. The anchor must be a
	// standard directive (Caddy panics on any other).
	httpcaddyfile.RegisterDirectiveOrder("mcp_console", httpcaddyfile.Before, "reverse_proxy")
}

// Console is the operator's console: a web page, and under it the JSON
// routes of the admin API (/mcp_proxy/… of Caddy's admin endpoint), served
// by the very same handlers, so that an operator can watch and drive the
// gateway from a browser on a public site behind the site's own auth. It
// serves the paths below the one it is mounted on, which must be stripped
// (handle_path /console*, or uri strip_prefix): / (the page),
// /console.js, /console.css and /api/… (the admin routes: /api/sessions is
// /mcp_proxy/sessions, and so on). Requests that change something (any
// method but GET and HEAD) must come from the page's own origin and carry
// the page's CSRF token.
type Console struct{}

// CaddyModule returns the Caddy module information.
func (Console) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.mcp_console",
		New: func() caddy.Module { return new(Console) },
	}
}

func parseConsoleCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	c := new(Console)
	err := c.UnmarshalCaddyfile(h.Dispenser)
	return c, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	mcp_console [<matcher>]
//
// It takes no arguments and no block.
func (c *Console) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive
	if d.NextArg() {
		return d.Errf("mcp_console takes no arguments, got %q; mount it with handle_path /console* { mcp_console }", d.Val())
	}
	if d.NextBlock(d.Nesting()) {
		return d.Errf("mcp_console takes no block, got %q", d.Val())
	}
	return nil
}

// consoleAPIPrefix is where, below the console's mount, the admin routes are.
const consoleAPIPrefix = "/api/"

// ServeHTTP serves the console. It never calls next: every path below its
// mount is its own, and an unknown one is a 404.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	setConsoleSecurityHeaders(w.Header())
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, consoleAPIPrefix); ok {
		return serveConsoleAPI(w, r, rest)
	}
	if p == "" || p == "/" {
		if redirectToMount(w, r) {
			return nil
		}
		p = "/"
	}
	a, ok := consoleAssets()[p]
	if !ok {
		return writeConsoleError(w, caddy.APIError{HTTPStatus: http.StatusNotFound,
			Err: errConsoleNotFound})
	}
	if err := mcphttp.AllowMethods(w, r, http.MethodGet, http.MethodHead); err != nil {
		return writeConsoleError(w, err)
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	_, err := w.Write(a.body)
	return err
}

// redirectToMount answers a request for the mount itself without its
// trailing slash (/console for handle_path /console*), where the page's
// relative links would miss, with a permanent redirect to the mount with
// the slash, the query kept. It reports whether it did.
func redirectToMount(w http.ResponseWriter, r *http.Request) bool {
	orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request)
	if !ok || orig.URL == nil {
		return false
	}
	p := orig.URL.EscapedPath()
	// "//host" would be a Location on another host.
	if p == "" || strings.HasSuffix(p, "/") || strings.HasPrefix(p, "//") {
		return false
	}
	target := p + "/"
	if orig.URL.RawQuery != "" {
		target += "?" + orig.URL.RawQuery
	}
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusPermanentRedirect)
	return true
}

// serveConsoleAPI serves /api/<rest> with the admin route /mcp_proxy/<rest>,
// after the guard of changing requests.
func serveConsoleAPI(w http.ResponseWriter, r *http.Request, rest string) error {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	adminPath := "/mcp_proxy/" + rest
	// The mux would redirect an unclean path to the admin path's clean
	// form: a Location of the admin endpoint, wrong here.
	clean := path.Clean(adminPath)
	if strings.HasSuffix(adminPath, "/") {
		clean += "/"
	}
	if clean != adminPath {
		return writeConsoleError(w, caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errConsoleNotFound})
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if err := checkConsoleChange(r); err != nil {
			return writeConsoleError(w, err)
		}
	}
	ar := r.WithContext(r.Context())
	u := *r.URL
	u.Path, u.RawPath = adminPath, ""
	ar.URL = &u
	ar.RequestURI = u.RequestURI()
	consoleMux().ServeHTTP(w, ar)
	return nil
}
