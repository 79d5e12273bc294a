package intercept

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// pointer is a parsed JSON pointer (RFC 6901) into a message, from its root:
// /params/arguments/path.
type pointer []string

// parsePointer parses a JSON pointer. The empty pointer (the whole message)
// is refused: rules edit or test members, never the envelope as a whole.
func parsePointer(s string) (pointer, error) {
	if s == "" || s[0] != '/' {
		return nil, fmt.Errorf("JSON pointer %q must start with /", s)
	}
	parts := strings.Split(s[1:], "/")
	for i, p := range parts {
		if strings.Contains(strings.ReplaceAll(strings.ReplaceAll(p, "~0", ""), "~1", ""), "~") {
			return nil, fmt.Errorf("JSON pointer %q: ~ must be written ~0 (and / as ~1)", s)
		}
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

// envelopeMember reports whether the pointer names a member that decides
// what the message is (jsonrpc, id, method): editing them would turn it into
// another message than the one the gateway routes.
func (p pointer) envelopeMember() bool {
	if len(p) != 1 {
		return false
	}
	switch p[0] {
	case "jsonrpc", "id", "method":
		return true
	}
	return false
}

// get returns the value p names in doc, a decoded JSON value.
func (p pointer) get(doc any) (any, bool) {
	v := doc
	for _, tok := range p {
		switch c := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = c[tok]; !ok {
				return nil, false
			}
		case []any:
			i, ok := arrayIndex(tok, len(c))
			if !ok || i == len(c) {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}

var errNoParent = errors.New("the member's parent is not an object or array")

// set puts value at p in doc (an object), creating missing objects on the
// way; "-" as the last token of an array appends.
func (p pointer) set(doc any, value any) error {
	parent, err := p.parent(doc, true)
	if err != nil {
		return err
	}
	last := p[len(p)-1]
	switch c := parent.(type) {
	case map[string]any:
		c[last] = value
		return nil
	case *arrayRef:
		i, ok := arrayIndex(last, len(*c.a))
		if !ok {
			return fmt.Errorf("%q is not an index of an array of %d", last, len(*c.a))
		}
		if i == len(*c.a) {
			*c.a = append(*c.a, value)
		} else {
			(*c.a)[i] = value
		}
		c.store(*c.a)
		return nil
	}
	return errNoParent
}

// remove deletes the value at p and reports whether there was one; a
// missing value is not an error.
func (p pointer) remove(doc any) bool {
	parent, err := p.parent(doc, false)
	if err != nil {
		return false
	}
	last := p[len(p)-1]
	switch c := parent.(type) {
	case map[string]any:
		_, ok := c[last]
		delete(c, last)
		return ok
	case *arrayRef:
		if i, ok := arrayIndex(last, len(*c.a)); ok && i < len(*c.a) {
			*c.a = append((*c.a)[:i:i], (*c.a)[i+1:]...)
			c.store(*c.a)
			return true
		}
	}
	return false
}

// arrayRef is an array inside its container, so that an append or a
// removal can store the new slice back.
type arrayRef struct {
	a     *[]any
	store func([]any)
}

// parent walks to the container of p's last token. With create, missing
// members on the way become objects.
func (p pointer) parent(doc any, create bool) (any, error) {
	v := doc
	var store func([]any)
	for _, tok := range p[:len(p)-1] {
		switch c := v.(type) {
		case map[string]any:
			next, ok := c[tok]
			if !ok || next == nil {
				if !create {
					return nil, errNoParent
				}
				next = map[string]any{}
				c[tok] = next
			}
			if _, isArray := next.([]any); isArray {
				key, m := tok, c
				store = func(a []any) { m[key] = a }
			}
			v = next
		case []any:
			i, ok := arrayIndex(tok, len(c))
			if !ok || i == len(c) {
				return nil, errNoParent
			}
			if _, isArray := c[i].([]any); isArray {
				idx, arr := i, c
				store = func(a []any) { arr[idx] = a }
			}
			v = c[i]
		default:
			return nil, errNoParent
		}
	}
	if a, ok := v.([]any); ok {
		return &arrayRef{a: &a, store: store}, nil
	}
	if m, ok := v.(map[string]any); ok {
		return m, nil
	}
	return nil, errNoParent
}

// arrayIndex reads an array index token; "-" is the index past the end.
func arrayIndex(tok string, n int) (int, bool) {
	if tok == "-" {
		return n, true
	}
	if tok == "" || (len(tok) > 1 && tok[0] == '0') {
		return 0, false
	}
	i, err := strconv.Atoi(tok)
	if err != nil || i < 0 || i > n {
		return 0, false
	}
	return i, true
}
