package front

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// writeError answers with an HTTP status and a JSON-RPC error body. id may be
// nil for errors that concern the whole HTTP request.
func writeError(w http.ResponseWriter, status int, id json.RawMessage, code int, msg string) {
	body := pipeline.NewError(id, code, msg).Raw
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeRetryLater answers 503 (or 429) with Retry-After, for a bound that was
// reached: too many sessions, no process free, too many requests in flight.
func writeRetryLater(w http.ResponseWriter, status int, retryAfterSeconds int, id json.RawMessage, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	writeError(w, status, id, pipeline.CodeInternalError, msg)
}
