package console

import (
	"context"
	"crypto/tls"
	_ "github.com/caddy-mcp/caddy-mcp/caddymcp/admin" // admin.api.mcp_proxy, whose routes the console serves
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func TestCheckConsoleChange(t *testing.T) {
	token := consoleToken()
	for _, tc := range []struct {
		name   string
		tls    bool
		header map[string]string
		want   int // 0: allowed
	}{
		{"the page's own request", false, map[string]string{"Origin": "http://gw.example:8080", "Sec-Fetch-Site": "same-origin", consoleTokenHeader: token}, 0},
		{"not a browser, with the token", false, map[string]string{consoleTokenHeader: token}, 0},
		{"behind TLS ended in front", false, map[string]string{"Origin": "https://gw.example:8080", consoleTokenHeader: token}, 0},
		{"over TLS", true, map[string]string{"Origin": "https://gw.example:8080", consoleTokenHeader: token}, 0},
		{"over TLS from http", true, map[string]string{"Origin": "http://gw.example:8080", consoleTokenHeader: token}, http.StatusForbidden},
		{"no token", false, map[string]string{"Origin": "http://gw.example:8080", "Sec-Fetch-Site": "same-origin"}, http.StatusForbidden},
		{"a wrong token", false, map[string]string{consoleTokenHeader: token[:len(token)-1]}, http.StatusForbidden},
		{"another host", false, map[string]string{"Origin": "http://evil.example:8080", consoleTokenHeader: token}, http.StatusForbidden},
		{"another port", false, map[string]string{"Origin": "http://gw.example", consoleTokenHeader: token}, http.StatusForbidden},
		{"an opaque origin", false, map[string]string{"Origin": "null", consoleTokenHeader: token}, http.StatusForbidden},
		{"a cross-site fetch", false, map[string]string{"Sec-Fetch-Site": "cross-site", consoleTokenHeader: token}, http.StatusForbidden},
		{"a same-site fetch", false, map[string]string{"Sec-Fetch-Site": "same-site", consoleTokenHeader: token}, http.StatusForbidden},
		{"a typed-in URL", false, map[string]string{"Sec-Fetch-Site": "none", consoleTokenHeader: token}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "http://gw.example:8080/api/held/x/continue", nil)
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			status := 0
			if err := checkConsoleChange(r); err != nil {
				_ = writeConsoleError(rec, err)
				status = rec.Code
			}
			if status != tc.want {
				t.Errorf("status %d, want %d (%s)", status, tc.want, rec.Body)
			}
		})
	}
}

func TestConsoleCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		input, wantErr string
	}{
		{"mcp_console", ""},
		{"mcp_console /console/*", "takes no arguments"},
		{"mcp_console {\n\tfoo\n}", "takes no block"},
	} {
		err := new(Console).UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%q: error %v, want %q", tc.input, err, tc.wantErr)
		}
	}
}

// TestConsoleServesEveryAdminRoute: every admin route answers under api/,
// by the admin handler itself (its own errors, not the console's 404).
func TestConsoleServesEveryAdminRoute(t *testing.T) {
	routes := adminRoutes()
	if len(routes) == 0 {
		t.Fatal("no admin routes: admin.api.mcp_proxy is not registered")
	}
	for _, route := range routes {
		rest := strings.TrimPrefix(route.Pattern, "/mcp_proxy/")
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPut, "http://gw.example/api/"+rest, nil)
		r.Header.Set(consoleTokenHeader, consoleToken())
		if err := new(Console).ServeHTTP(rec, r, nil); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(rec.Body.String(), errConsoleNotFound.Error()) || rec.Code < 400 {
			t.Errorf("PUT api/%s: %d %s, want the admin handler's own refusal", rest, rec.Code, rec.Body)
		}
		if rec.Header().Get("Content-Security-Policy") != consoleCSP {
			t.Errorf("PUT api/%s: no CSP", rest)
		}
	}
}

func TestConsolePaths(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		status       int
		contains     string
	}{
		{http.MethodGet, "/", http.StatusOK, `content="` + consoleToken() + `"`},
		{http.MethodHead, "/console.js", http.StatusOK, ""},
		{http.MethodGet, "/api/sessions", http.StatusOK, `"sessions":`},
		{http.MethodGet, "/api/sessions/../upstreams", http.StatusNotFound, errConsoleNotFound.Error()},
		{http.MethodGet, "/api/held//events", http.StatusNotFound, errConsoleNotFound.Error()},
		{http.MethodGet, "/api/", http.StatusNotFound, errConsoleNotFound.Error()},
		{http.MethodGet, "/other", http.StatusNotFound, errConsoleNotFound.Error()},
		{http.MethodDelete, "/api/sessions/x", http.StatusForbidden, "token"},
		{http.MethodGet, "/pins.js", http.StatusOK, "api/pins/"},
		{http.MethodGet, "/api/pins", http.StatusOK, `"pins":[]`},
		{http.MethodPost, "/api/pins/x/approve", http.StatusForbidden, "token"},
	} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(tc.method, "http://gw.example"+tc.path, nil)
		if err := new(Console).ServeHTTP(rec, r, nil); err != nil {
			t.Fatal(err)
		}
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.contains) {
			t.Errorf("%s %s: %d %s, want %d containing %q", tc.method, tc.path, rec.Code, rec.Body, tc.status, tc.contains)
		}
		if rec.Header().Get("Content-Security-Policy") != consoleCSP {
			t.Errorf("%s %s: no CSP", tc.method, tc.path)
		}
	}
}

// TestConsoleMountRedirect: the mount itself without its slash — what a
// request for /console becomes under handle_path /console* — is sent to
// the mount with the slash, the query kept; the mount with the slash, a
// console at a site's root and a path that would name another host are not.
func TestConsoleMountRedirect(t *testing.T) {
	for _, tc := range []struct {
		name, orig, stripped string
		location             string // "" for the page itself
	}{
		{"mount without its slash", "/console", "/", "/console/"},
		{"stripped to nothing", "/console", "", "/console/"},
		{"query kept", "/ops/console?tab=calls", "/", "/ops/console/?tab=calls"},
		{"escaped path kept", "/my%20console", "/", "/my%20console/"},
		{"mount with its slash", "/console/", "/", ""},
		{"site root", "/", "/", ""},
		{"another host", "//evil.example", "/", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := httptest.NewRequest(http.MethodGet, "http://gw.example"+tc.orig, nil)
			r := orig.Clone(context.WithValue(orig.Context(), caddyhttp.OriginalRequestCtxKey, *orig.Clone(orig.Context())))
			r.URL.Path, r.URL.RawPath, r.URL.RawQuery = tc.stripped, "", orig.URL.RawQuery
			rec := httptest.NewRecorder()
			if err := new(Console).ServeHTTP(rec, r, nil); err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.location != "" && (rec.Code != http.StatusPermanentRedirect || rec.Header().Get("Location") != tc.location):
				t.Errorf("%d Location %q, want 308 to %q", rec.Code, rec.Header().Get("Location"), tc.location)
			case tc.location == "" && (rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "console.js")):
				t.Errorf("%d %q, want the page", rec.Code, rec.Header().Get("Location"))
			}
		})
	}
}
