package pipeline

import "encoding/json"

// JSON-RPC and MCP error codes used by the gateway.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternalError  = -32603
	// CodeConnectionClosed is the MCP SDKs' code for a request cut short
	// because the connection or session ended.
	CodeConnectionClosed = -32000
	// CodeRequestTimeout is the MCP SDKs' code for a request that timed out.
	CodeRequestTimeout = -32001
)

// ErrorObject is a JSON-RPC error object.
type ErrorObject struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// NewError builds an error response for id (nil or "null" for an id-less error).
func NewError(id json.RawMessage, code int, message string) *Message {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	obj, _ := json.Marshal(ErrorObject{Code: code, Message: message})
	raw := make([]byte, 0, 48+len(id)+len(obj))
	raw = append(raw, `{"jsonrpc":"2.0","id":`...)
	raw = append(raw, id...)
	raw = append(raw, `,"error":`...)
	raw = append(raw, obj...)
	raw = append(raw, '}')
	return &Message{Raw: raw, Kind: KindResponse, ID: id, Error: obj}
}

// NewResult builds a success response for id with the given raw result. A
// nil id is written as null and a nil result as the empty object {}.
func NewResult(id, result json.RawMessage) *Message {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	if len(result) == 0 {
		result = json.RawMessage("{}")
	}
	raw := make([]byte, 0, 40+len(id)+len(result))
	raw = append(raw, `{"jsonrpc":"2.0","id":`...)
	raw = append(raw, id...)
	raw = append(raw, `,"result":`...)
	raw = append(raw, result...)
	raw = append(raw, '}')
	return &Message{Raw: raw, Kind: KindResponse, ID: id, Result: result}
}

// NewNotification builds a notification with the given raw params (may be nil).
func NewNotification(method string, params json.RawMessage) *Message {
	raw := make([]byte, 0, 48+len(method)+len(params))
	raw = append(raw, `{"jsonrpc":"2.0","method":`...)
	raw = appendJSONString(raw, method)
	if params != nil {
		raw = append(raw, `,"params":`...)
		raw = append(raw, params...)
	}
	raw = append(raw, '}')
	return &Message{Raw: raw, Kind: KindNotification, Method: method, Params: params}
}

// CancelledNotification builds notifications/cancelled for the request id.
// The id is written byte for byte (nil is written as null).
func CancelledNotification(requestID json.RawMessage, reason string) *Message {
	if len(requestID) == 0 {
		requestID = json.RawMessage("null")
	}
	params := make([]byte, 0, 28+len(requestID)+len(reason))
	params = append(params, `{"requestId":`...)
	params = append(params, requestID...)
	if reason != "" {
		params = append(params, `,"reason":`...)
		params = appendJSONString(params, reason)
	}
	params = append(params, '}')
	return NewNotification("notifications/cancelled", params)
}

// appendJSONString appends s as a JSON string. Unlike strconv.AppendQuote,
// whose \x and \v escapes are not JSON, the result is always valid JSON.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			q, _ := json.Marshal(s)
			return append(dst, q...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
