package intercept

import (
	"fmt"
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
