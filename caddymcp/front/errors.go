package front

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"go.uber.org/zap"

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

// publicFailure logs a failure of the upstream with its detail under a fresh
// correlation id, and returns what the client reads: the public message
// (what happened and what to do; no URL, address, command line or pid),
// with err's text added when verbose_errors is on, and the error data that
// carries the correlation id.
func publicFailure(logger *zap.Logger, verbose bool, public, logMsg string, err error, fields ...zap.Field) (string, pipeline.ErrorData) {
	data := pipeline.NewErrorData()
	logger.Warn(logMsg, append(fields, zap.String("correlation_id", data.CorrelationID), zap.Error(err))...)
	if verbose && err != nil {
		public += ": " + err.Error()
	}
	return public, data
}

// writeFailure answers with an error whose detail went to the log (see
// publicFailure).
func writeFailure(w http.ResponseWriter, status int, id json.RawMessage, code int, msg string, data pipeline.ErrorData) {
	body := pipeline.NewErrorWithData(id, code, msg, data).Raw
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeMessage writes one message as a JSON answer.
func writeMessage(w http.ResponseWriter, status int, m *pipeline.Message) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(m.Raw)))
	w.WriteHeader(status)
	_, _ = w.Write(m.Raw)
}

// writeErrorData is writeError with an error data object.
func writeErrorData(w http.ResponseWriter, status int, id json.RawMessage, code int, msg string, data any) {
	if data == nil {
		writeError(w, status, id, code, msg)
		return
	}
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	obj, _ := json.Marshal(pipeline.ErrorObject{Code: code, Message: msg, Data: mustJSON(data)})
	var b bytes.Buffer
	b.WriteString(`{"jsonrpc":"2.0","id":`)
	b.Write(id)
	b.WriteString(`,"error":`)
	b.Write(obj)
	b.WriteByte('}')
	writeMessage(w, status, &pipeline.Message{Raw: b.Bytes(), Kind: pipeline.KindResponse, ID: id, Error: obj})
}
