package pipeline

// validJSON reports whether b is one JSON value, with nothing but
// whitespace around it: what json.Valid reports (a fuzz test holds the two
// to the same answer), in one plain pass over the bytes instead of
// encoding/json's scanner, which calls a state function per byte. Every
// message read from a client or a server goes through it once.
func validJSON(b []byte) bool {
	v := validator{b: b}
	var stack [32]byte // the open containers, on the stack while shallow
	i := v.value(skipSpace(b, 0), stack[:0])
	return i >= 0 && skipSpace(b, i) == len(b)
}

// maxJSONDepth is encoding/json's nesting limit (maxNestingDepth): deeper
// arrays and objects are refused as json.Valid refuses them.
const maxJSONDepth = 10000

// validator walks a JSON text. Its methods return the index just past
// what they read, or -1 when it is not valid JSON.
type validator struct {
	b []byte
}

// value reads one value at b[i] and, for a container, everything up to its
// close, keeping the open containers on a stack rather than recursing.
// stack holds the open containers ('{' or '[').
func (v *validator) value(i int, stack []byte) int {
	b := v.b
	for {
		if i >= len(b) {
			return -1
		}
		switch c := b[i]; c {
		case '{', '[':
			if len(stack) >= maxJSONDepth {
				return -1
			}
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == closer(c) {
				i++ // empty: a whole value
				break
			}
			stack = append(stack, c)
			if c == '{' {
				if i = v.key(i); i < 0 {
					return -1
				}
			}
			continue // the first element
		case '"':
			i = v.str(i)
		case 't':
			i = v.literal(i, "true")
		case 'f':
			i = v.literal(i, "false")
		case 'n':
			i = v.literal(i, "null")
		default:
			i = v.number(i)
		}
		if i < 0 {
			return -1
		}
		// After a value: close containers, or go on to the next element.
		for {
			if len(stack) == 0 {
				return i
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return -1
			}
			top := stack[len(stack)-1]
			if b[i] == closer(top) {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if b[i] != ',' {
				return -1
			}
			i = skipSpace(b, i+1)
			if top == '{' {
				if i = v.key(i); i < 0 {
					return -1
				}
			}
			break
		}
	}
}

func closer(open byte) byte {
	if open == '{' {
		return '}'
	}
	return ']'
}

// key reads `"name" :` and the space after it.
func (v *validator) key(i int) int {
	b := v.b
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = v.str(i); i < 0 {
		return -1
	}
	if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
		return -1
	}
	return skipSpace(b, i+1)
}

// str reads a string at b[i] (a '"'): no control characters, escapes as
// JSON has them. Other bytes pass as they are, as in encoding/json, which
// does not check UTF-8 here.
func (v *validator) str(i int) int {
	b := v.b
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return -1
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func (v *validator) literal(i int, word string) int {
	if len(v.b)-i < len(word) || string(v.b[i:i+len(word)]) != word {
		return -1
	}
	return i + len(word)
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (v *validator) number(i int) int {
	b := v.b
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(b, i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if i++; i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		i = digits(b, i)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		i = digits(b, i)
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func digits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}
