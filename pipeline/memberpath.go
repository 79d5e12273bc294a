package pipeline

import (
	"bytes"
	"strconv"
	"strings"
)

// where names the object that starts at b[off] for an error: " in" and its
// JSON pointer, or "" for the message itself. Only errors come here, so it
// walks the message again from the top rather than have the scan keep the
// path of every object.
func where(b []byte, off int) string {
	var path strings.Builder
	i := 0
	for i < off {
		next := -1
		switch b[i] {
		case '{':
			j := skipSpace(b, i+1)
			for b[j] != '}' {
				nameEnd := skipString(b, j)
				name := b[j+1 : nameEnd-1]
				j = skipSpace(b, skipSpace(b, nameEnd)+1)
				end := skipValue(b, j)
				if j <= off && off < end {
					n := memberName{name: name}
					if bytes.IndexByte(name, '\\') >= 0 && n.decode() != nil {
						n.name = name
					}
					path.WriteByte('/')
					path.WriteString(escapePointer(string(n.name)))
					next = j
					break
				}
				j = skipSpace(b, end)
				if b[j] == ',' {
					j = skipSpace(b, j+1)
				}
			}
		case '[':
			j := skipSpace(b, i+1)
			for k := 0; b[j] != ']'; k++ {
				end := skipValue(b, j)
				if j <= off && off < end {
					path.WriteByte('/')
					path.WriteString(strconv.Itoa(k))
					next = j
					break
				}
				j = skipSpace(b, end)
				if b[j] == ',' {
					j = skipSpace(b, j+1)
				}
			}
		}
		if next < 0 {
			break // cannot happen: off starts a value inside b
		}
		i = next
	}
	if path.Len() == 0 {
		return ""
	}
	return " in " + path.String()
}

// escapePointer writes a member name as a JSON pointer segment (RFC 6901).
func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
