package mcphttp

import (
	"mime"
	"net/http"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// The exported face of envelope.go, for the modules that read the
// envelope before mcp_proxy (kept apart so that envelope.go reads as it
// did in caddymcp).

// EnvelopeResult says what ReadEnvelope found in a request body.
type EnvelopeResult = envelopeResult

// What ReadEnvelope found (see envelopeNone and the others).
const (
	EnvelopeNone     = envelopeNone
	EnvelopeTooLarge = envelopeTooLarge
	EnvelopeInvalid  = envelopeInvalid
	EnvelopeOK       = envelopeOK
)

// ReadEnvelope reads the JSON-RPC messages of an MCP POST, up to limit
// bytes, and puts the body back (readEnvelope).
func ReadEnvelope(r *http.Request, limit int64) (msgs []*pipeline.Message, batch bool, res EnvelopeResult) {
	return readEnvelope(r, limit)
}

// JSONContent reports whether r says its body is JSON.
func JSONContent(r *http.Request) bool { return jsonContent(r) }

// jsonContent reports whether r says its body is JSON.
func jsonContent(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}
