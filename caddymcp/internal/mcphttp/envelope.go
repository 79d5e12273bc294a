package mcphttp

import (
	"bytes"
	"errors"
	"io"
	"net/http"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// envelopeResult says what readEnvelope found in a request body.
type envelopeResult int

const (
	// envelopeNone: not a JSON POST with a body; nothing was read.
	envelopeNone envelopeResult = iota
	// envelopeTooLarge: the body is bigger than the limit (or could not be
	// read); what was read is back in front of the rest.
	envelopeTooLarge
	// envelopeInvalid: the body is not JSON-RPC, or readers would read it
	// differently (pipeline.ErrAmbiguous); it is back in place.
	envelopeInvalid
	// envelopeOK: msgs are the body's messages; the body is back in place.
	envelopeOK
)

// readEnvelope reads the JSON-RPC messages of an MCP POST, up to limit
// bytes, and puts the body back so the handlers after the caller read it
// whole (or meet the same read error). Handlers ordered before mcp_proxy
// (the mcp matcher, mcp_auth's per-tool scopes) look at the envelope
// through it.
//
// err says why a body is envelopeInvalid. Such a body must not pass as one
// that names no operation: it may be a message a server reads otherwise
// (pipeline.ErrAmbiguous), e.g. {"name":"safe","Name":"danger"}.
func readEnvelope(r *http.Request, limit int64) (msgs []*pipeline.Message, batch bool, res envelopeResult, err error) {
	if r.Method != http.MethodPost || r.Body == nil || r.Body == http.NoBody || !jsonContent(r) {
		return nil, false, envelopeNone, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil || int64(len(body)) > limit {
		// What was read goes back in front of the rest, so the handler
		// sees the whole body (and answers 413) or the same read error.
		r.Body = restoredBody{Reader: io.MultiReader(bytes.NewReader(body), r.Body), Closer: r.Body}
		return nil, false, envelopeTooLarge, nil
	}
	r.Body = restoredBody{Reader: bytes.NewReader(body), Closer: r.Body}
	msgs, batch, err = pipeline.ParseBody(body)
	if err != nil {
		return nil, false, envelopeInvalid, err
	}
	return msgs, batch, envelopeOK, nil
}

// restoredBody is a request body put back after it was read: the bytes
// read, then whatever is left, closed as the original.
type restoredBody struct {
	io.Reader
	io.Closer
}

// writeEnvelopeError answers a body readEnvelope found invalid: 400 with
// the JSON-RPC error that mcp_proxy would give it (-32700 or -32600).
func writeEnvelopeError(w http.ResponseWriter, err error) {
	code := pipeline.CodeInvalidRequest
	if errors.Is(err, pipeline.ErrParse) {
		code = pipeline.CodeParseError
	}
	WriteError(w, http.StatusBadRequest, code, "Bad Request: "+err.Error())
}
