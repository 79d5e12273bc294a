package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync"

	"github.com/caddyserver/caddy/v2"
)

var errConsoleNotFound = errors.New("no such console path; the page is at the console's root, its API under api/")

// consoleMux routes the admin API's own routes (adminRoutes, the same
// handlers Caddy's admin endpoint serves) and answers their errors as the
// admin endpoint does: {"error": "…"} with the status.
var consoleMux = sync.OnceValue(func() *http.ServeMux {
	mux := http.NewServeMux()
	for _, route := range adminRoutes() {
		h := route.Handler
		mux.HandleFunc(route.Pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := h.ServeHTTP(w, r); err != nil {
				_ = writeConsoleError(w, err)
			}
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		_ = writeConsoleError(w, caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errConsoleNotFound})
	})
	return mux
})

// writeConsoleError answers err as the admin endpoint does: a
// caddy.APIError with its status, anything else as a 500. It returns nil:
// the answer is written, so Caddy's error routes must not write another.
func writeConsoleError(w http.ResponseWriter, err error) error {
	var apiErr caddy.APIError
	if !errors.As(err, &apiErr) {
		apiErr = caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: err}
	}
	if apiErr.HTTPStatus == 0 {
		apiErr.HTTPStatus = http.StatusInternalServerError
	}
	if apiErr.Message == "" && apiErr.Err != nil {
		apiErr.Message = apiErr.Err.Error()
	}
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{apiErr.Message})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(apiErr.HTTPStatus)
	_, _ = w.Write(append(b, '\n'))
	return nil
}

// adminRoutes are the routes of the admin.api.mcp_proxy module, found in
// Caddy's module registry, so that the console serves what the admin API
// serves without importing it (caddymcp/admin); none when it is not
// registered.
func adminRoutes() []caddy.AdminRoute {
	mod, err := caddy.GetModule("admin.api.mcp_proxy")
	if err != nil {
		return nil
	}
	r, ok := mod.New().(caddy.AdminRouter)
	if !ok {
		return nil
	}
	return r.Routes()
}
