package pipeline

import (
	"bytes"
	"unicode"
	"unicode/utf8"
)

// Member names compared as Go's encoding/json matches them to struct
// fields: strings.EqualFold, Unicode simple case folding.

// sameName reports whether two decoded names are equal under Go's case
// folding (strings.EqualFold, which encoding/json's field matching agrees
// with). ASCII names of different lengths cannot fold together; a non-ASCII
// one can match an ASCII one of another length ("ſ" and "s", "K" and "k").
func sameName(a, b memberName) bool {
	if a.ascii && b.ascii {
		return len(a.name) == len(b.name) && asciiEqualFold(a.name, b.name)
	}
	return bytes.EqualFold(a.name, b.name)
}

func asciiEqualFold(a, b []byte) bool {
	for i := range a {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}

// foldedName is the key shared by exactly the names that strings.EqualFold
// takes for one: every rune mapped to the smallest rune of its case-folding
// orbit (an invalid byte reads as U+FFFD, as in EqualFold and encoding/json).
func foldedName(name []byte) string {
	var arr [64]byte
	out := arr[:0]
	for i := 0; i < len(name); {
		if c := name[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(name[i:])
		out = utf8.AppendRune(out, smallestFold(r))
		i += size
	}
	return string(out)
}

// smallestFold returns the smallest rune of r's case-folding orbit.
func smallestFold(r rune) rune {
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	return least
}
