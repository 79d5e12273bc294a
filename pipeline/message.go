// Package pipeline holds the MCP message model and the chain of stages every
// message passes through on its way between a client and an upstream server.
//
// It imports nothing of this project: the Caddy face builds stages from
// configuration, the front and the upstreams only run the chain.
package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Kind tells what a JSON-RPC message is.
type Kind uint8

// The JSON-RPC message kinds.
const (
	KindInvalid Kind = iota
	// KindRequest has an id and a method, and expects a response.
	KindRequest
	// KindNotification has a method and no id.
	KindNotification
	// KindResponse has an id and either a result or an error.
	KindResponse
)

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindNotification:
		return "notification"
	case KindResponse:
		return "response"
	}
	return "invalid"
}

// Errors returned by Parse. They map onto the JSON-RPC codes -32700 and -32600.
var (
	// ErrParse means the bytes are not JSON.
	ErrParse = errors.New("parse error")
	// ErrInvalid means the bytes are JSON but not a JSON-RPC 2.0 message.
	ErrInvalid = errors.New("invalid request")
)

// Message is one JSON-RPC message: the exact bytes it arrived with plus the
// envelope decoded once. An unmodified message is forwarded as Raw, byte for
// byte; a stage that changes a message builds a new one with New or Parse.
//
// A Message never aliases a pooled buffer: Parse copies its input.
type Message struct {
	// Raw is the message exactly as received (or as re-encoded by a stage).
	Raw []byte
	// Kind classifies the message.
	Kind Kind
	// ID is the raw JSON id (number or string, type preserved); nil for notifications.
	ID json.RawMessage
	// Method is set on requests and notifications.
	Method string
	// Params is the raw params object of a request or notification, if any.
	Params json.RawMessage
	// Result is the raw result of a successful response.
	Result json.RawMessage
	// Error is the raw error object of an error response.
	Error json.RawMessage
	// Cached marks a response the gateway's cache (upstream/cache) served
	// in place of the upstream, as the upstream had answered it before: it
	// passes the pipeline like the upstream's, and tapes, logs and spans
	// say so. Never on the wire.
	Cached bool
	// OnGetStream says the upstream sent the message on its standalone GET
	// stream, not on a POST's answer stream. Never on the wire.
	OnGetStream bool
	// EventID is the SSE event id of the upstream stream that carried the
	// message, as of the message ("" if it gave none): a gateway of a
	// cluster seals it into the event id its client gets, so that another
	// instance resumes the upstream stream from there. Never on the wire.
	EventID string
}

// Parse decodes one JSON-RPC message. It copies b, so the caller may reuse b.
// The error wraps ErrParse or ErrInvalid and says what is wrong.
//
// Parse refuses (ErrAmbiguous) a message that readers would read
// differently: one in which an object has two members whose names are
// equal under Go's case folding, or in which a member the gateway reads
// (the envelope, params.name, …) is spelled in another case (members.go).
// (*Watch).Parse refuses, in addition, other spellings of what rules read.
func Parse(b []byte) (*Message, error) {
	raw, err := trimmed(b)
	if err != nil {
		return nil, err
	}
	return parseOwned(raw, protocolWatch)
}

// trimmed is a copy of b without the space around it.
func trimmed(b []byte) ([]byte, error) {
	raw := bytes.TrimSpace(b)
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: empty message", ErrParse)
	}
	return bytes.Clone(raw), nil
}

// parseOwned decodes raw, which the message takes ownership of: its fields
// are sub-slices of raw (envelope.go). The member scan reads it with w.
func parseOwned(raw []byte, w *Watch) (*Message, error) {
	m := new(Message)
	if err := parseInto(m, raw, w); err != nil {
		return nil, err
	}
	return m, nil
}

// parseInto is parseOwned into a Message the caller provides (parseBody
// allocates it with the one-element list it returns); m is garbage when it
// fails.
func parseInto(m *Message, raw []byte, w *Watch) error {
	if !validJSON(raw) {
		var v any
		err := json.Unmarshal(raw, &v)
		return fmt.Errorf("%w: %v", ErrParse, err)
	}
	if raw[0] != '{' {
		return fmt.Errorf("%w: a JSON-RPC message must be a JSON object", ErrInvalid)
	}
	spans, err := scanEnvelope(raw, w)
	if err != nil {
		return err
	}
	jsonrpc, err := stringValue("jsonrpc", spans[keyJSONRPC])
	if err != nil {
		return err
	}
	method, err := stringValue("method", spans[keyMethod])
	if err != nil {
		return err
	}
	*m = Message{Raw: raw, Method: method, Params: spans[keyParams], Result: spans[keyResult], Error: spans[keyError]}
	if jsonrpc != "2.0" {
		return fmt.Errorf("%w: \"jsonrpc\" must be \"2.0\"", ErrInvalid)
	}
	if id := spans[keyID]; id != nil {
		if !validID(id) {
			return fmt.Errorf("%w: \"id\" must be a string, a number or null", ErrInvalid)
		}
		m.ID = id
	}
	switch {
	case method != "":
		if m.Result != nil || m.Error != nil {
			return fmt.Errorf("%w: a message with \"method\" cannot carry \"result\" or \"error\"", ErrInvalid)
		}
		if m.ID == nil {
			m.Kind = KindNotification
		} else {
			if isNull(m.ID) {
				return fmt.Errorf("%w: a request id must not be null", ErrInvalid)
			}
			m.Kind = KindRequest
		}
	case m.Result != nil || m.Error != nil:
		if (m.Result != nil) == (m.Error != nil) {
			return fmt.Errorf("%w: a response carries exactly one of \"result\" and \"error\"", ErrInvalid)
		}
		if m.ID == nil {
			return fmt.Errorf("%w: a response must carry an \"id\"", ErrInvalid)
		}
		m.Kind = KindResponse
	default:
		return fmt.Errorf("%w: neither \"method\" nor \"result\"/\"error\" is present", ErrInvalid)
	}
	return nil
}

// validID reports whether id is a JSON string, number or null.
func validID(id json.RawMessage) bool {
	switch c := id[0]; {
	case c == '"', c == '-', c >= '0' && c <= '9':
		return true
	default:
		return isNull(id)
	}
}

func isNull(b json.RawMessage) bool { return string(b) == "null" }

// IDKey returns a map key that identifies the message's id with its type:
// the number 1 and the string "1" are different ids.
func (m *Message) IDKey() string { return string(m.ID) }

// IsRequest reports whether m is a request.
func (m *Message) IsRequest() bool { return m.Kind == KindRequest }

// IsNotification reports whether m is a notification.
func (m *Message) IsNotification() bool { return m.Kind == KindNotification }

// IsResponse reports whether m is a response (result or error).
func (m *Message) IsResponse() bool { return m.Kind == KindResponse }
