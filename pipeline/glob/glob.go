// Package glob matches names and URIs against the gateway's globs: `*`
// matches any run of characters, `/` included, and every other character
// matches itself. A Set of several globs matches when any of them does.
package glob

import "strings"

// Pattern is one glob.
type Pattern struct {
	text string
}

// Compile compiles one glob. Every string is a valid glob.
func Compile(text string) Pattern { return Pattern{text: text} }

// String returns the glob as written.
func (p Pattern) String() string { return p.text }

// Match reports whether s matches the whole glob.
func (p Pattern) Match(s string) bool { return Match(p.text, s) }

// Match reports whether s matches the whole of pattern, a glob. It is the
// one matching of the gateway's patterns: filters, intercept rules, the
// mcp matcher and mcp_auth's scopes all come here.
func Match(pattern, s string) bool {
	star := strings.IndexByte(pattern, '*')
	if star < 0 {
		return s == pattern // no star: a literal
	}
	if !strings.HasPrefix(s, pattern[:star]) {
		return false
	}
	s, pattern = s[star:], pattern[star+1:]
	for {
		star = strings.IndexByte(pattern, '*')
		if star < 0 {
			// The leftmost placement of the middle parts leaves the
			// most room for the last one, so this suffix test is exact.
			return strings.HasSuffix(s, pattern)
		}
		part := pattern[:star]
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s, pattern = s[i+len(part):], pattern[star+1:]
	}
}

// MatchAny reports whether s matches one of patterns; none matches
// nothing.
func MatchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if Match(p, s) {
			return true
		}
	}
	return false
}

// Set is several globs, matched as one: any of them.
type Set []Pattern

// CompileSet compiles globs into a Set.
func CompileSet(globs []string) Set {
	if len(globs) == 0 {
		return nil
	}
	s := make(Set, len(globs))
	for i, g := range globs {
		s[i] = Compile(g)
	}
	return s
}

// Match reports whether any glob of the set matches s. An empty set
// matches nothing.
func (s Set) Match(v string) bool {
	for _, p := range s {
		if p.Match(v) {
			return true
		}
	}
	return false
}
