package console

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"sync"

	"github.com/caddyserver/caddy/v2"
)

// consoleTokenHeader carries the console's CSRF token on changing requests.
// A custom header is also what a cross-origin page cannot send without a
// CORS preflight, which the console never grants.
const consoleTokenHeader = "X-MCP-Console-Token"

// consoleToken is the CSRF token of this process: random, made once, and
// written into the page. Only who can read the page (same origin, past the
// site's auth) can send it.
var consoleToken = sync.OnceValue(rand.Text)

// consoleCSP is the Content-Security-Policy of every console response: the
// page's own script and style files only (no inline script or style), its
// own API only, in no frame.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'"

func setConsoleSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// Why a changing console request is refused.
var (
	errConsoleCrossSite = errors.New("refused: a console action must come from the console's own page (same origin)")
	errConsoleToken     = errors.New("refused: a console action needs the page's token in the " + consoleTokenHeader + " header; reload the console")
)

// checkConsoleChange refuses (403) a changing request that a browser says
// comes from another site, or that lacks the token. A client that is not a
// browser sends neither Origin nor Sec-Fetch-Site: the token decides.
func checkConsoleChange(r *http.Request) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return caddy.APIError{HTTPStatus: http.StatusForbidden, Err: errConsoleCrossSite}
	}
	if origin := r.Header.Get("Origin"); origin != "" && !sameOrigin(origin, r) {
		return caddy.APIError{HTTPStatus: http.StatusForbidden, Err: errConsoleCrossSite}
	}
	got := r.Header.Get(consoleTokenHeader)
	if subtle.ConstantTimeCompare([]byte(got), []byte(consoleToken())) != 1 {
		return caddy.APIError{HTTPStatus: http.StatusForbidden, Err: errConsoleToken}
	}
	return nil
}

// sameOrigin reports whether origin (an Origin header) names the host the
// request was sent to. The scheme must be https when the request came over
// TLS; without TLS here, TLS may have ended in front of Caddy, so either
// scheme is taken.
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Path != "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if r.TLS != nil && u.Scheme != "https" {
		return false
	}
	return u.Host == r.Host
}
