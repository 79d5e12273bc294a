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
// bytes, and puts the body back (readEnvelope); err says why a body is
// EnvelopeInvalid.
func ReadEnvelope(r *http.Request, limit int64) (msgs []*pipeline.Message, batch bool, res EnvelopeResult, err error) {
	return readEnvelope(r, limit)
}

// WriteEnvelopeError answers a body ReadEnvelope found invalid: 400 with
// the JSON-RPC error that mcp_proxy would give it.
func WriteEnvelopeError(w http.ResponseWriter, err error) { writeEnvelopeError(w, err) }

// JSONContent reports whether r says its body is JSON.
func JSONContent(r *http.Request) bool { return jsonContent(r) }

// jsonContent reports whether r says its body is JSON.
func jsonContent(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}
