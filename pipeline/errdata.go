package pipeline

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
)

// ErrorData is the "data" object of the error responses the gateway makes
// up. What a client sees of a failure is public, so the detail (an upstream
// URL, an address, a command line, a pid) stays in the gateway's log, on a
// line that carries the same CorrelationID. Other layers embed ErrorData in
// their own data objects to add fields (an HTTP status, a rule name).
type ErrorData struct {
	// CorrelationID names the log line with the detail of the failure.
	CorrelationID string `json:"correlation_id"`
}

// NewErrorData returns an ErrorData with a fresh correlation id.
func NewErrorData() ErrorData { return ErrorData{CorrelationID: NewCorrelationID()} }

// NewCorrelationID returns a fresh random id for an error and its log line:
// 12 random bytes in hex, unique enough to find one line among many.
func NewCorrelationID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}

// NewErrorWithData is NewError with a data member: data is marshalled to
// JSON (a json.RawMessage is used as is); nil means none.
func NewErrorWithData(id json.RawMessage, code int, message string, data any) *Message {
	if data == nil {
		return NewError(id, code, message)
	}
	raw, ok := data.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(data); err != nil {
			return NewError(id, code, message)
		}
	}
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	obj, _ := json.Marshal(ErrorObject{Code: code, Message: message, Data: raw})
	buf := make([]byte, 0, 48+len(id)+len(obj))
	buf = append(buf, `{"jsonrpc":"2.0","id":`...)
	buf = append(buf, id...)
	buf = append(buf, `,"error":`...)
	buf = append(buf, obj...)
	buf = append(buf, '}')
	return &Message{Raw: buf, Kind: KindResponse, ID: id, Error: obj}
}
