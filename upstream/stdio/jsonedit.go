package stdio

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
)

// These helpers edit JSON in place, for the mux's id and token rewriting:
// they find a member's value by scanning the bytes (which pipeline.Parse
// already validated) and splice in a new value, leaving every other byte as
// it was.

// rewriteRequest returns the request raw with the upstream id upID as its id
// and, when it asks for progress, as its progressToken (every
// params._meta.progressToken, names compared case-insensitively as
// encoding/json does), newline included. token is the client's
// progressToken, or nil. The edits are found first and spliced in one
// pass, so a request costs one buffer (and the token's copy), not one per
// level of nesting.
func rewriteRequest(raw []byte, upID int64) (line, token json.RawMessage, err error) {
	var idBuf [20]byte
	id := strconv.AppendInt(idBuf[:0], upID, 10)
	var editBuf [4]span
	edits, ok := memberSpans(raw, 0, "id", false, editBuf[:0])
	if !ok || len(edits) == 0 {
		return nil, nil, errors.New("upstream: a stateless request needs an id")
	}
	var tok []byte
	var paramsBuf, metaBuf [2]span
	params, _ := memberSpans(raw, 0, "params", false, paramsBuf[:0])
	for _, p := range params {
		metas, _ := memberSpans(raw[p.s:p.e], p.s, "_meta", true, metaBuf[:0])
		for _, mt := range metas {
			n := len(edits)
			if edits, _ = memberSpans(raw[mt.s:mt.e], mt.s, "progressToken", true, edits); len(edits) > n {
				last := edits[len(edits)-1]
				tok = raw[last.s:last.e]
			}
		}
	}
	slices.SortFunc(edits, func(a, b span) int { return a.s - b.s })
	out := make([]byte, 0, len(raw)+len(edits)*len(id)+1)
	prev := 0
	for _, e := range edits {
		out = append(append(out, raw[prev:e.s]...), id...)
		prev = e.e
	}
	out = append(out, raw[prev:]...)
	// stdio framing is one message per line: JSON whitespace may not
	// include a newline (newlines in strings are always escaped).
	if bytes.ContainsAny(out, "\r\n") {
		var b bytes.Buffer
		if err := json.Compact(&b, out); err != nil {
			return nil, nil, err
		}
		out = b.Bytes()
	}
	if tok != nil {
		token = bytes.Clone(tok)
	}
	return append(out, '\n'), token, nil
}

// span is where a member's value sits in a message: raw[s:e].
type span struct{ s, e int }

// memberSpans appends to dst the spans of obj's members named key (fold:
// ASCII case-insensitively), shifted by off (obj's place in the whole
// message). ok is false, and dst as it was, when obj is not a well-formed
// object.
func memberSpans(obj []byte, off int, key string, fold bool, dst []span) (spans []span, ok bool) {
	n := len(dst)
	if !scanMembers(obj, func(name []byte, vs, ve int) {
		if memberIs(name, key, fold) {
			dst = append(dst, span{off + vs, off + ve})
		}
	}) {
		return dst[:n], false
	}
	return dst, true
}

// parseUpID reads an id or token the mux issued: a JSON integer.
func parseUpID(raw json.RawMessage) (int64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0, false
	}
	if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return n, true
	}
	// A server may echo the number in another form, such as 5.0 or 5e0.
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f != float64(int64(f)) {
		return 0, false
	}
	return int64(f), true
}

// hasMember reports whether obj has a member key whose value is an object
// with a member inner.
func hasMember(obj []byte, key, inner string) bool {
	return findMember(findMember(obj, key), inner) != nil
}

// findMember returns the value of obj's last member named key (the one
// encoding/json would read), or nil when obj is no object or has none.
func findMember(obj []byte, key string) json.RawMessage {
	var v []byte
	scanMembers(obj, func(name []byte, vs, ve int) {
		if memberIs(name, key, false) {
			v = obj[vs:ve]
		}
	})
	return v
}

// replaceIn sets the value at path (member names from the top) in raw to
// val, and reports whether the path existed.
func replaceIn(raw []byte, path []string, val []byte) ([]byte, bool) {
	if len(path) == 0 {
		return val, true
	}
	found := false
	out, ok := replaceMember(raw, path[0], false, func(v []byte) []byte {
		inner, ok := replaceIn(v, path[1:], val)
		found = found || ok
		return inner
	})
	return out, ok && found
}

// replaceMember returns obj with the value of every top-level member named
// key replaced by fn(value); fold compares names ASCII case-insensitively.
// ok reports whether obj was an object with such a member.
func replaceMember(obj []byte, key string, fold bool, fn func(v []byte) []byte) (out []byte, ok bool) {
	var buf [2]span
	spans, ok := memberSpans(obj, 0, key, fold, buf[:0])
	if !ok || len(spans) == 0 {
		return obj, false
	}
	out = make([]byte, 0, len(obj)+16)
	prev := 0
	for _, sp := range spans {
		out = append(out, obj[prev:sp.s]...)
		out = append(out, fn(obj[sp.s:sp.e])...)
		prev = sp.e
	}
	return append(out, obj[prev:]...), true
}

// memberIs compares a member name as written (without its quotes, maybe
// escaped) with key.
func memberIs(name []byte, key string, fold bool) bool {
	if bytes.IndexByte(name, '\\') >= 0 {
		var s string
		if json.Unmarshal(append(append([]byte{'"'}, name...), '"'), &s) != nil {
			return false
		}
		name = []byte(s)
	}
	if fold {
		return bytes.EqualFold(name, []byte(key))
	}
	return string(name) == key
}

// scanMembers calls fn for each member of the JSON object obj with its name
// (as written, without the quotes) and the span of its value. It returns
// false when obj is not a well-formed object.
func scanMembers(obj []byte, fn func(name []byte, vs, ve int)) bool {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	i++
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) {
			return false
		}
		switch obj[i] {
		case '}':
			return true
		case ',':
			i++
			continue
		case '"':
		default:
			return false
		}
		ns, ne := i+1, endString(obj, i)
		if ne < 0 {
			return false
		}
		i = skipSpace(obj, ne+1)
		if i >= len(obj) || obj[i] != ':' {
			return false
		}
		vs := skipSpace(obj, i+1)
		ve := endValue(obj, vs)
		if ve < 0 {
			return false
		}
		fn(obj[ns:ne], vs, ve)
		i = ve
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// endString returns the index of the quote that closes the string opening
// at b[i], or -1.
func endString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return -1
}

// endValue returns the index just after the JSON value starting at b[i], or
// -1 when it does not end.
func endValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		if e := endString(b, i); e >= 0 {
			return e + 1
		}
		return -1
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				if j = endString(b, j); j < 0 {
					return -1
				}
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
loop:
	for ; j < len(b); j++ {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			break loop
		}
	}
	if j == i {
		return -1
	}
	return j
}
