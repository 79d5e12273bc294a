package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// JSON pointers into a message's bytes. A rule reads or edits one member of
// a message that may be megabytes long; decoding all of it into Go values
// costs many times its size, so these walk the bytes with envelope.go's
// scanner to the value a pointer names and touch only that span. The path
// is a JSON pointer (RFC 6901) already split into its unescaped tokens.
// Member names compare exactly, after JSON unescaping ("\u0041" is "A"); a
// name given twice yields its last copy, as encoding/json reads it.

// ValueAt returns the raw value path names in doc, a valid JSON value (a
// message's Raw, or a span of it), and whether there is one. The empty path
// names doc itself.
func ValueAt(doc []byte, path []string) ([]byte, bool) {
	w := walk(doc, path)
	if w.depth < len(path) {
		return nil, false
	}
	return doc[w.start:w.end], true
}

// ErrNoParent is SetAt's error when the path leads through a value that is
// neither an object nor an array (nor a missing or null member, which SetAt
// creates).
var ErrNoParent = errors.New("the member's parent is not an object or array")

// SetAt returns a copy of doc, a valid JSON object, with value (valid JSON)
// at path. A member that exists is replaced in place (its last copy if it is
// given twice); a missing one is added at the end of its object, with the
// objects on the way that are missing or null; an array index equal to the
// array's length, or "-", appends. doc is not changed.
func SetAt(doc []byte, path []string, value []byte) ([]byte, error) {
	if len(path) == 0 {
		return nil, errors.New("set: the empty pointer names the whole document")
	}
	w := walk(doc, path)
	if w.depth == len(path) {
		return splice(doc, w.start, w.end, value), nil
	}
	rest := path[w.depth:]
	v := doc[w.start:w.end]
	switch {
	case v[0] == '{':
		ins := make([]byte, 0, len(value)+32)
		if !emptyContainer(v) {
			ins = append(ins, ',')
		}
		ins = appendMembers(ins, rest, value)
		return splice(doc, w.end-1, w.end-1, ins), nil
	case v[0] == '[':
		n := ArrayLen(v)
		if len(rest) > 1 {
			return nil, fmt.Errorf("%q is not an index of an array of %d", rest[0], n)
		}
		if i, ok := arrayIndex(rest[0], n); !ok || i != n {
			return nil, fmt.Errorf("%q is not an index of an array of %d", rest[0], n)
		}
		ins := make([]byte, 0, len(value)+1)
		if n > 0 {
			ins = append(ins, ',')
		}
		return splice(doc, w.end-1, w.end-1, append(ins, value...)), nil
	case isNull(v) && w.depth > 0 && !w.inArray:
		// A null member on the way reads as missing: it becomes the objects.
		ins := appendMembers([]byte{'{'}, rest, value)
		return splice(doc, w.start, w.end, append(ins, '}')), nil
	}
	return nil, ErrNoParent
}

// RemoveAt returns a copy of doc without the member or element path names,
// every copy of it if a member is given twice (a copy left behind would be
// what a reader that keeps the first one sees), and whether there was one.
// A missing value is no change (doc itself is returned).
func RemoveAt(doc []byte, path []string) ([]byte, bool) {
	removed := false
	for len(path) > 0 {
		w := walk(doc, path)
		if w.depth < len(path) {
			break
		}
		from, to := w.itemStart, w.end
		switch {
		case w.prevEnd >= 0:
			from = w.prevEnd // the separator before it goes with it
		case w.nextStart >= 0:
			to = w.nextStart // the first item: the separator after it
		}
		doc, removed = splice(doc, from, to, nil), true
		if w.inArray {
			break // the next element took its index
		}
	}
	return doc, removed
}

// ParseEdited parses a message SetAt or RemoveAt made. Unlike Parse it
// does not copy raw, which becomes the message's: SetAt and RemoveAt return
// a new slice nobody else holds, and a copy of a large message is what
// editing it in place saves.
func ParseEdited(raw []byte) (*Message, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: empty message", ErrParse)
	}
	return parseOwned(raw, protocolWatch)
}

// walked is how far a path leads into a document.
type walked struct {
	depth      int // tokens followed: the path's length when the value exists
	start, end int // the value reached after depth tokens
	// Where that value sits in its container (depth > 0), for RemoveAt:
	itemStart int  // its member's name, or the element itself
	prevEnd   int  // the end of the previous item's value; -1 for the first
	nextStart int  // the start of the next item; -1 for the last
	inArray   bool // an element, not a member
}

func walk(doc []byte, path []string) walked {
	w := walked{start: skipSpace(doc, 0)}
	w.end = skipValue(doc, w.start)
	for _, tok := range path {
		if w.start >= len(doc) {
			return w
		}
		var next walked
		var ok bool
		switch doc[w.start] {
		case '{':
			next, ok = member(doc, w.start, tok)
		case '[':
			next, ok = element(doc, w.start, tok)
		}
		if !ok {
			return w
		}
		next.depth = w.depth + 1
		w = next
	}
	return w
}

// member finds the member name of the object that starts at doc[open]; the
// last copy wins.
func member(doc []byte, open int, name string) (walked, bool) {
	var found walked
	ok := false
	prevEnd := -1
	for i := skipSpace(doc, open+1); i < len(doc) && doc[i] != '}'; {
		itemStart := i
		nameEnd := skipString(doc, i)
		raw := doc[i+1 : nameEnd-1]
		i = skipSpace(doc, nameEnd)
		i = skipSpace(doc, i+1) // past ':'
		start := i
		end := skipValue(doc, i)
		i = skipSpace(doc, end)
		if i < len(doc) && doc[i] == ',' {
			i = skipSpace(doc, i+1)
		}
		if memberNameIs(raw, name) {
			next := i
			if i >= len(doc) || doc[i] == '}' {
				next = -1
			}
			found, ok = walked{start: start, end: end, itemStart: itemStart, prevEnd: prevEnd, nextStart: next}, true
		}
		prevEnd = end
	}
	return found, ok
}

// element finds the element tok (a decimal index) of the array that starts
// at doc[open].
func element(doc []byte, open int, tok string) (walked, bool) {
	want, err := strconv.Atoi(tok)
	if err != nil || want < 0 || tok != strconv.Itoa(want) {
		return walked{}, false // also "-", which names no element yet
	}
	prevEnd := -1
	for i, n := skipSpace(doc, open+1), 0; i < len(doc) && doc[i] != ']'; n++ {
		start := i
		end := skipValue(doc, i)
		i = skipSpace(doc, end)
		if i < len(doc) && doc[i] == ',' {
			i = skipSpace(doc, i+1)
		}
		if n == want {
			next := i
			if i >= len(doc) || doc[i] == ']' {
				next = -1
			}
			return walked{start: start, end: end, itemStart: start, prevEnd: prevEnd, nextStart: next, inArray: true}, true
		}
		prevEnd = end
	}
	return walked{}, false
}

// ArrayLen counts the elements of arr, a valid JSON array (a value
// ValueAt returned), without decoding them.
func ArrayLen(arr []byte) int {
	n := 0
	for i := skipSpace(arr, 1); i < len(arr) && arr[i] != ']'; n++ {
		i = skipSpace(arr, skipValue(arr, i))
		if i < len(arr) && arr[i] == ',' {
			i = skipSpace(arr, i+1)
		}
	}
	return n
}

// arrayIndex reads an array index token for an array of n elements; "-" is
// the index past the end.
func arrayIndex(tok string, n int) (int, bool) {
	if tok == "-" {
		return n, true
	}
	i, err := strconv.Atoi(tok)
	if err != nil || i < 0 || i > n || tok != strconv.Itoa(i) {
		return 0, false
	}
	return i, true
}

// emptyContainer reports whether v, a valid JSON object or array, is empty.
func emptyContainer(v []byte) bool { return skipSpace(v, 1) == len(v)-1 }

// appendMembers appends "a":{"b":…{"z":value}} for the names path.
func appendMembers(b []byte, path []string, value []byte) []byte {
	for i, name := range path {
		if i > 0 {
			b = append(b, '{')
		}
		q, _ := json.Marshal(name) // a string always encodes
		b = append(append(b, q...), ':')
	}
	b = append(b, value...)
	for range path[1:] {
		b = append(b, '}')
	}
	return b
}

// splice returns a new slice: doc with doc[from:to] replaced by ins.
func splice(doc []byte, from, to int, ins []byte) []byte {
	out := make([]byte, 0, len(doc)-(to-from)+len(ins))
	return append(append(append(out, doc[:from]...), ins...), doc[to:]...)
}
