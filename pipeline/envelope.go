package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// The envelope is read in two passes over the bytes, neither of which
// copies: validJSON (valid.go) proves the message is JSON, then scanEnvelope walks the
// (now known valid) object and keeps the spans of the six envelope members
// as sub-slices of the message's own bytes. The same walk checks member
// names (members.go) — no name given twice or in two spellings that Go's
// case folding takes for one, anywhere; no envelope member spelled in
// another case — so the gateway never judges a different message than the
// upstream receives (encoding/json folds names, so
// {"method":"a","Method":"b"} would read as method "b" there, and parsers
// disagree on which copy of a twice-given member wins).

// envelopeKeys are the members Parse decodes; bit i of a seen set stands for
// envelopeKeys[i].
var envelopeKeys = [...]string{"jsonrpc", "id", "method", "params", "result", "error"}

// envelopeSpans are the raw values of the envelope members, nil when absent.
type envelopeSpans [len(envelopeKeys)][]byte

// Indexes into envelopeKeys and envelopeSpans.
const (
	keyJSONRPC = iota
	keyID
	keyMethod
	keyParams
	keyResult
	keyError
)

// scanEnvelope returns the envelope members of raw, a valid JSON object,
// and checks the names of every object in it as w reads them (members.go).
func scanEnvelope(raw []byte, w *Watch) (envelopeSpans, error) {
	var spans envelopeSpans
	s := memberScan{b: raw}
	_, err := s.object(0, w, &spans, 0)
	return spans, err
}

// envelopeKey returns the index in envelopeKeys of a top-level member's
// decoded name, or -1 for another member. Twice-given members and other
// spellings of these are refused by the member scan.
func envelopeKey(name []byte) int {
	for i, k := range envelopeKeys {
		if string(name) == k {
			return i
		}
	}
	return -1
}

// stringValue decodes a member that must be a JSON string or null (which
// reads as ""), as encoding/json would into a string.
func stringValue(name string, v []byte) (string, error) {
	switch {
	case v == nil || isNull(v):
		return "", nil
	case v[0] != '"':
		return "", fmt.Errorf("%w: %q must be a string", ErrInvalid, name)
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		if s, ok := commonStrings[string(inner)]; ok { // a lookup that copies nothing
			return s, nil
		}
		return string(inner), nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrParse, name, err)
	}
	return s, nil
}

// commonStrings are the string values most messages carry — the jsonrpc
// version and the protocol's methods — so that decoding them shares one
// string instead of copying it for every message.
var commonStrings = func() map[string]string {
	m := make(map[string]string)
	for _, s := range []string{
		"2.0", "initialize", "notifications/initialized", "ping", "tools/call", "tools/list", "resources/read",
		"resources/list", "resources/templates/list", "resources/subscribe", "resources/unsubscribe", "prompts/get",
		"prompts/list", "completion/complete", "logging/setLevel", "sampling/createMessage", "elicitation/create",
		"roots/list", "notifications/progress", "notifications/cancelled", "notifications/message",
		"notifications/resources/updated", "notifications/resources/list_changed", "notifications/tools/list_changed",
		"notifications/prompts/list_changed", "notifications/roots/list_changed",
	} {
		m[s] = s
	}
	return m
}()

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the string that starts at b[i]
// (a '"'); b is valid JSON.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++ // the escaped byte; \uXXXX's hex digits are plain bytes
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index just past the value that starts at b[i]; b is
// valid JSON.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	default: // a number or a literal: up to the next delimiter
		for ; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
		}
		return i
	}
}
