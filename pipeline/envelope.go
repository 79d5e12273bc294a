package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// The envelope is read in two passes over the bytes, neither of which
// copies: json.Valid proves the message is JSON, then scanEnvelope walks the
// top-level members of the (now known valid) object and keeps the spans of
// the six envelope members as sub-slices of the message's own bytes. The
// rules are those of a strict parser — member names are case-sensitive, an
// envelope member given twice or spelled in another case is refused — so the
// gateway never judges a different message than the upstream receives
// (encoding/json folds names, so {"method":"a","Method":"b"} would read as
// method "b" there, and parsers disagree on which copy of a twice-given
// member wins).

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

// scanEnvelope returns the envelope members of raw, a valid JSON object.
func scanEnvelope(raw []byte) (envelopeSpans, error) {
	var spans envelopeSpans
	var seen uint8
	i := skipSpace(raw, 1) // past '{'
	for i < len(raw) && raw[i] != '}' {
		// A member: "name" : value, then ',' or '}'.
		nameEnd := skipString(raw, i)
		name := raw[i+1 : nameEnd-1]
		i = skipSpace(raw, nameEnd)
		i = skipSpace(raw, i+1) // past ':'
		valueEnd := skipValue(raw, i)
		k, err := envelopeKey(name, &seen)
		if err != nil {
			return spans, err
		}
		if k >= 0 {
			// Capped, so an append to a field copies instead of writing
			// over the rest of the message.
			spans[k] = raw[i:valueEnd:valueEnd]
		}
		i = skipSpace(raw, valueEnd)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return spans, nil
}

// envelopeKey checks one top-level member name (still JSON-escaped) and
// returns its index in envelopeKeys, or -1 for another member.
func envelopeKey(name []byte, seen *uint8) (int, error) {
	if bytes.IndexByte(name, '\\') >= 0 {
		var s string
		quoted := make([]byte, 0, len(name)+2)
		quoted = append(append(append(quoted, '"'), name...), '"')
		if json.Unmarshal(quoted, &s) != nil {
			return -1, fmt.Errorf("%w: bad member name %s", ErrParse, quoted)
		}
		name = []byte(s)
	}
	for i, k := range envelopeKeys {
		if string(name) == k {
			if *seen&(1<<i) != 0 {
				return -1, fmt.Errorf("%w: member %q appears more than once", ErrInvalid, k)
			}
			*seen |= 1 << i
			return i, nil
		}
		if bytes.EqualFold(name, []byte(k)) {
			return -1, fmt.Errorf("%w: member %q must be spelled %q", ErrInvalid, name, k)
		}
	}
	return -1, nil
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
		return string(inner), nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrParse, name, err)
	}
	return s, nil
}

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
