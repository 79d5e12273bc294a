package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// A peer built on Go's encoding/json matches member names to its struct
// fields with Unicode case folding and keeps the last copy of a twice-given
// member, while other parsers (and the gateway's own pointers) read names
// exactly, or keep the first copy. So a message with
// {"name":"safe","Name":"danger"} names one tool to the gateway and another
// to the server. The member scan refuses two kinds of message, wherever in
// the message the object is, so that every reader sees one and the same
// message:
//
//   - an object in which two member names are equal, or equal under Go's
//     case folding (after JSON escapes are decoded: "\u004eame" is "Name");
//   - a member the gateway reads (a Watch) spelled in another case:
//     {"NAME":"danger"} is tool "danger" to a Go server and no tool to a
//     reader that matches exactly.
//
// The scan is the walk over the message that finds the envelope members
// (envelope.go): it visits every byte once more after validJSON, as the
// skipping of the values it replaces did.

// ErrAmbiguous means a JSON object of the message has two members that a
// peer decoding with Go's encoding/json would take for one, or a member the
// gateway reads is spelled in another case: readers of the message would
// disagree on what it says. Such an error is an ErrInvalid too (JSON-RPC
// -32600).
var ErrAmbiguous = errors.New("ambiguous member names")

// ambiguousError is a refusal of the member scan.
type ambiguousError struct{ msg string }

func (e *ambiguousError) Error() string { return ErrInvalid.Error() + ": " + e.msg }

func (e *ambiguousError) Is(target error) bool { return target == ErrAmbiguous || target == ErrInvalid }

// pairwiseNames is how many members of one object are compared with each
// other; from then on a map of folded names takes over (and allocates).
const pairwiseNames = 16

// memberName is one member name of an object being scanned.
type memberName struct {
	// name is the decoded name: a sub-slice of the message unless the name
	// has escapes.
	name  []byte
	ascii bool
}

// memberScan walks a valid JSON message, object by object. The names of
// the objects that enclose the current value form a stack, each object's
// from the index where it started: the first ones in small, which stays on
// the caller's stack, the rest (deeply nested names) in more.
type memberScan struct {
	b     []byte
	small [32]memberName
	more  []memberName
}

// name returns entry k of the name stack.
func (s *memberScan) name(k int) memberName {
	if k < len(s.small) {
		return s.small[k]
	}
	return s.more[k-len(s.small)]
}

// push sets entry k of the name stack, which drops those above it.
func (s *memberScan) push(k int, n memberName) {
	if k < len(s.small) {
		s.small[k] = n
		return
	}
	s.more = append(s.more[:k-len(s.small)], n)
}

// value checks the value that starts at s.b[i] and returns the index just
// past it; w is what the gateway reads inside it (nil: nothing), top the
// height of the name stack.
func (s *memberScan) value(i int, w *Watch, top int) (int, error) {
	switch s.b[i] {
	case '{':
		return s.object(i, w, nil, top)
	case '[':
		return s.array(i, w, top)
	default:
		return skipValue(s.b, i), nil
	}
}

// object checks the object that starts at s.b[i]. When env is not nil the
// object is a message and its envelope members are recorded there.
func (s *memberScan) object(i int, w *Watch, env *envelopeSpans, start int) (int, error) {
	b := s.b
	o := objectNames{open: i, start: start, top: start}
	i = skipSpace(b, i+1)
	for b[i] != '}' {
		nameEnd, plain, ascii := scanName(b, i)
		n := memberName{name: b[i+1 : nameEnd-1], ascii: ascii}
		if !plain {
			if err := n.decode(); err != nil {
				return 0, err
			}
		}
		if err := s.add(&o, n); err != nil {
			return 0, err
		}
		child, err := s.watched(n, w, o.open)
		if err != nil {
			return 0, err
		}
		i = skipSpace(b, nameEnd)
		i = skipSpace(b, i+1) // past ':'
		valueEnd, err := s.value(i, child, o.top)
		if err != nil {
			return 0, err
		}
		if env != nil {
			if k := envelopeKey(n.name); k >= 0 {
				// Capped, so an append to a field copies instead of
				// writing over the rest of the message.
				env[k] = b[i:valueEnd:valueEnd]
			}
		}
		i = skipSpace(b, valueEnd)
		if b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return i + 1, nil
}

// objectNames are the names of the object being scanned: entries start to
// top of the name stack, or, past pairwiseNames of them, folded.
type objectNames struct {
	open, start, top int
	folded           map[string]string // folded name → the name as given
}

// add checks n against the names of its object seen so far and records it.
func (s *memberScan) add(o *objectNames, n memberName) error {
	if o.folded == nil && o.top-o.start < pairwiseNames {
		for k := o.start; k < o.top; k++ {
			if p := s.name(k); sameName(p, n) {
				return s.duplicate(o.open, string(p.name), n.name)
			}
		}
		s.push(o.top, n)
		o.top++
		return nil
	}
	if o.folded == nil {
		o.folded = make(map[string]string, 2*pairwiseNames)
		for k := o.start; k < o.top; k++ {
			p := s.name(k)
			o.folded[foldedName(p.name)] = string(p.name)
		}
	}
	key := foldedName(n.name)
	if first, ok := o.folded[key]; ok {
		return s.duplicate(o.open, first, n.name)
	}
	o.folded[key] = string(n.name)
	return nil
}

// array checks the array that starts at s.b[i].
func (s *memberScan) array(i int, w *Watch, top int) (int, error) {
	b := s.b
	i = skipSpace(b, i+1)
	for k := 0; b[i] != ']'; k++ {
		end, err := s.value(i, w.element(k), top)
		if err != nil {
			return 0, err
		}
		i = skipSpace(b, end)
		if b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return i + 1, nil
}

// watched returns what the gateway reads inside member n of an object it
// reads as w, or fails if n is one of those members spelled otherwise.
func (s *memberScan) watched(n memberName, w *Watch, open int) (*Watch, error) {
	if w == nil {
		return nil, nil
	}
	for _, m := range w.members {
		if string(n.name) == m.name {
			return m.node, nil
		}
	}
	for _, m := range w.members {
		if sameName(memberName{name: []byte(m.name), ascii: m.ascii}, n) {
			return nil, &ambiguousError{fmt.Sprintf("member %q%s must be spelled %q", n.name, where(s.b, open), m.name)}
		}
	}
	return nil, nil
}

// duplicate is the error for a name given twice in the object at open.
func (s *memberScan) duplicate(open int, first string, second []byte) error {
	if first == string(second) {
		return &ambiguousError{fmt.Sprintf("duplicate member %q%s", first, where(s.b, open))}
	}
	return &ambiguousError{fmt.Sprintf("duplicate member %q (also %q)%s", first, second, where(s.b, open))}
}

// decode replaces the raw (escaped) name with its decoded text, as
// encoding/json reads it.
func (n *memberName) decode() error {
	quoted := make([]byte, 0, len(n.name)+2)
	quoted = append(append(append(quoted, '"'), n.name...), '"')
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return fmt.Errorf("%w: bad member name %s", ErrParse, quoted)
	}
	n.name, n.ascii = []byte(s), isASCII(s)
	return nil
}

// scanName returns the index just past the member name that starts at b[i]
// (a '"'), and whether the name has no escapes and is plain ASCII.
func scanName(b []byte, i int) (end int, plain, ascii bool) {
	plain, ascii = true, true
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '\\':
			plain = false
			i++ // the escaped byte; \uXXXX's hex digits are plain bytes
		case c == '"':
			return i + 1, plain, ascii
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return len(b), plain, ascii
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
