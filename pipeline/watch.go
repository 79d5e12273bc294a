package pipeline

import (
	"fmt"
	"strconv"
	"strings"
)

// Watch is the tree of members the gateway reads in a message, from its
// root: the protocol's (the envelope, params.name, params.uri, …) and those
// on the way to what rules read (a field rule's /params/arguments/path).
// Parsing with a Watch refuses a message in which one of them is spelled in
// another case only (members.go), since a Go peer would read it and the
// gateway would not. A nil *Watch is the protocol's watch alone.
type Watch struct {
	members []watchMember
}

type watchMember struct {
	name  string
	ascii bool
	index int // the array index the name stands for, or -1
	node  *Watch
}

// protocolPointers are the members the gateway itself reads: the
// envelope, what a request names (the tool, prompt or resource and its
// arguments), paging and the state it carries, progress, cancellation,
// log levels and the protocol version.
var protocolPointers = []string{
	"/jsonrpc", "/id", "/method", "/result/protocolVersion", "/error",
	"/params/name", "/params/uri", "/params/arguments", "/params/cursor", "/params/requestState",
	"/params/protocolVersion", "/params/requestId", "/params/progressToken", "/params/progress",
	"/params/_meta/progressToken", "/params/_meta/io.modelcontextprotocol~1protocolVersion",
	"/params/_meta/io.modelcontextprotocol~1logLevel",
}

// protocolWatch is NewWatch's tree of protocolPointers.
var protocolWatch = func() *Watch {
	w := new(Watch)
	for _, p := range protocolPointers {
		if err := w.add(p); err != nil {
			panic(err)
		}
	}
	return w
}()

// NewWatch returns the protocol's watch and the members on the way to each
// of pointers (JSON pointers, RFC 6901, from the message's root).
func NewWatch(pointers ...string) (*Watch, error) {
	w := new(Watch)
	for _, p := range append(protocolPointers[:len(protocolPointers):len(protocolPointers)], pointers...) {
		if err := w.add(p); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// add puts the members on the way to pointer into the tree.
func (w *Watch) add(pointer string) error {
	if pointer == "" {
		return nil // the whole message: no member on the way
	}
	if !strings.HasPrefix(pointer, "/") {
		return fmt.Errorf("JSON pointer %q must start with /", pointer)
	}
	node := w
	for _, seg := range strings.Split(pointer[1:], "/") {
		name := strings.NewReplacer("~1", "/", "~0", "~").Replace(seg)
		node = node.member(name)
	}
	return nil
}

// member returns the node of name, added if new.
func (w *Watch) member(name string) *Watch {
	for _, m := range w.members {
		if m.name == name {
			return m.node
		}
	}
	index := -1
	if n, err := strconv.Atoi(name); err == nil && n >= 0 && strconv.Itoa(n) == name {
		index = n
	}
	m := watchMember{name: name, ascii: isASCII(name), index: index, node: new(Watch)}
	w.members = append(w.members, m)
	return m.node
}

// element returns what is read inside element k of an array read as w.
func (w *Watch) element(k int) *Watch {
	if w == nil {
		return nil
	}
	for _, m := range w.members {
		if m.index == k {
			return m.node
		}
	}
	return nil
}

// root is the tree a message is scanned with: w, or the protocol's.
func (w *Watch) root() *Watch {
	if w == nil {
		return protocolWatch
	}
	return w
}

// Parse is the package's Parse, refusing also a message in which a member
// of w is spelled in another case only.
func (w *Watch) Parse(b []byte) (*Message, error) {
	raw, err := trimmed(b)
	if err != nil {
		return nil, err
	}
	return parseOwned(raw, w.root())
}
