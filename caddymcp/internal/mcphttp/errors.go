package mcphttp

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// Quote makes s an RFC 9110 quoted-string.
func Quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// WriteError answers status with a JSON-RPC error body without id, as
// the rest of the gateway does for errors about a whole HTTP request.
func WriteError(w http.ResponseWriter, status, code int, msg string) {
	writeBody(w, status, pipeline.NewError(nil, code, msg).Raw)
}

// WriteErrorData is WriteError with error data (the correlation
// id under which the log has the detail).
func WriteErrorData(w http.ResponseWriter, status, code int, msg string, data pipeline.ErrorData) {
	writeBody(w, status, pipeline.NewErrorWithData(nil, code, msg, data).Raw)
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// AllowMethods answers 405 with an Allow header unless r uses one of
// methods.
func AllowMethods(w http.ResponseWriter, r *http.Request, methods ...string) error {
	for _, m := range methods {
		if r.Method == m {
			return nil
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	return caddy.APIError{
		HTTPStatus: http.StatusMethodNotAllowed,
		Err:        fmt.Errorf("method %s not allowed; use %s", r.Method, strings.Join(methods, " or ")),
	}
}
