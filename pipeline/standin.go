package pipeline

import (
	"encoding/json"
	"errors"
)

// StandIn returns the answer the gateway delivers in place of a server
// message that Parse refused as ambiguous (ErrAmbiguous) when that message
// answers a request: an error with the same id, so that the request is
// answered at once instead of waiting out its timeout. Nothing is lost
// silently; the upstream readers log the refused message beside it. It
// returns nil for anything else (a request or notification of the
// server's, a message whose id cannot be read, another parse error).
func StandIn(raw []byte, err error) *Message {
	if !errors.Is(err, ErrAmbiguous) {
		return nil
	}
	// Only the id is wanted, and only on this rare path: a plain decode
	// will do. The envelope scan already refuses an id given twice or
	// spelled in another case, so the message's ambiguity lies deeper.
	var m struct {
		ID     json.RawMessage `json:"id"`
		Method *string         `json:"method"`
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if json.Unmarshal(raw, &m) != nil || m.Method != nil || len(m.ID) == 0 || string(m.ID) == "null" ||
		(m.Result == nil && m.Error == nil) {
		return nil
	}
	return NewError(m.ID, CodeInternalError,
		"the upstream MCP server's answer was refused: parsers would read it differently ("+err.Error()+")")
}
