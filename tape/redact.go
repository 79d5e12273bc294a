package tape

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Redacted replaces every redacted value on a tape.
const Redacted = "[redacted]"

// sensitiveKeys are object members whose values are never stored, wherever
// they stand in a message (a tool's argument that carries HTTP headers, a
// result that echoes them): credentials a client or server passed along.
// HTTP headers themselves are never recorded at all.
var sensitiveKeys = []string{"authorization", "proxy-authorization", "cookie", "set-cookie"}

// Redactor removes configured JSON pointers and credential-like members
// from messages before they are stored. The zero value removes only the
// credential-like members.
type Redactor struct {
	pointers [][]string
}

// NewRedactor parses JSON pointers (RFC 6901, relative to the JSON-RPC
// message, e.g. /params/arguments/api_key); a "*" segment matches every
// member of an object or element of an array.
func NewRedactor(pointers []string) (*Redactor, error) {
	r := new(Redactor)
	var errs []error
	for _, p := range pointers {
		segs, err := parsePointer(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.pointers = append(r.pointers, segs)
	}
	return r, errors.Join(errs...)
}

// parsePointer splits a JSON pointer into its unescaped segments.
func parsePointer(p string) ([]string, error) {
	if p == "" || p[0] != '/' {
		return nil, fmt.Errorf("redact: %q is not a JSON pointer (it must start with /, e.g. /params/arguments/api_key)", p)
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return segs, nil
}

// Apply returns msg compacted onto one line, with the redactions applied.
// A message that holds nothing to redact keeps its members' order; one
// that does is re-encoded (members sorted by name).
func (r *Redactor) Apply(msg []byte) ([]byte, error) {
	if (r == nil || len(r.pointers) == 0) && !mentionsSensitive(msg) {
		if !bytes.ContainsAny(msg, "\r\n") && json.Valid(msg) {
			// Already one line (a JSON string holds no raw line break).
			return msg, nil
		}
		var buf bytes.Buffer
		buf.Grow(len(msg))
		if err := json.Compact(&buf, msg); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if r != nil {
		for _, p := range r.pointers {
			v = redactPointer(v, p)
		}
	}
	v = redactSensitive(v)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// redactPointer replaces the value at p in v (if present) by Redacted.
func redactPointer(v any, p []string) any {
	if len(p) == 0 {
		return Redacted
	}
	switch n := v.(type) {
	case map[string]any:
		if p[0] == "*" {
			for k, c := range n {
				n[k] = redactPointer(c, p[1:])
			}
		} else {
			// Every member whose name folds to the segment's: servers
			// written with Go's encoding/json read {"API_KEY": …} as
			// api_key, and a tape must not keep what they would use.
			for k, c := range n {
				if strings.EqualFold(k, p[0]) {
					n[k] = redactPointer(c, p[1:])
				}
			}
		}
	case []any:
		if p[0] == "*" {
			for i, c := range n {
				n[i] = redactPointer(c, p[1:])
			}
		} else if i, err := strconv.Atoi(p[0]); err == nil && i >= 0 && i < len(n) {
			n[i] = redactPointer(n[i], p[1:])
		}
	}
	return v
}

// redactSensitive replaces the values of credential-like members anywhere in v.
func redactSensitive(v any) any {
	switch n := v.(type) {
	case map[string]any:
		for k, c := range n {
			if isSensitive(k) {
				n[k] = Redacted
			} else {
				n[k] = redactSensitive(c)
			}
		}
	case []any:
		for i, c := range n {
			n[i] = redactSensitive(c)
		}
	}
	return v
}

func isSensitive(key string) bool {
	for _, s := range sensitiveKeys {
		if strings.EqualFold(key, s) {
			return true
		}
	}
	return false
}

// sensitiveWords are in every sensitive key, and in ASCII: the cheap test
// before any decoding.
var sensitiveWords = []string{"authorization", "cookie"}

// sensitiveFolds are the UTF-8 forms of the non-ASCII letters that
// strings.EqualFold equates with a letter of sensitiveWords (the Kelvin
// sign K with k): a name spelled with one is sensitive too, and an ASCII
// search would not see it.
var sensitiveFolds = func() [][]byte {
	var out [][]byte
	seen := map[rune]bool{}
	for _, w := range sensitiveWords {
		for _, c := range w {
			for f := unicode.SimpleFold(c); f != c; f = unicode.SimpleFold(f) {
				if f > unicode.MaxASCII && !seen[f] {
					seen[f] = true
					out = append(out, utf8.AppendRune(nil, f))
				}
			}
		}
	}
	return out
}()

// mentionsSensitive reports whether msg may hold a credential-like member
// name: most messages do not, and skip the decoding. Names are judged
// decoded, so a message with a \u escape, or a letter that folds to one
// of the words' letters, may hold one however its bytes read.
func mentionsSensitive(msg []byte) bool {
	for _, w := range sensitiveWords {
		if indexFold(msg, w) >= 0 {
			return true
		}
	}
	if bytes.Contains(msg, []byte(`\u`)) {
		return true
	}
	for _, f := range sensitiveFolds {
		if bytes.Contains(msg, f) {
			return true
		}
	}
	return false
}

// indexFold finds the ASCII word w (lower case) in b, ignoring case.
func indexFold(b []byte, w string) int {
	first := w[0]
	for i := 0; i+len(w) <= len(b); i++ {
		if b[i]|0x20 == first && bytes.EqualFold(b[i:i+len(w)], []byte(w)) {
			return i
		}
	}
	return -1
}
