// Package glob matches names and URIs against the gateway's globs: `*`
// matches any run of characters, `/` included, and every other character
// matches itself. A Set of several globs matches when any of them does.
package glob

import "strings"

// Pattern is one compiled glob.
type Pattern struct {
	text  string
	parts []string // the literal runs between the stars
	lead  bool     // the glob starts with '*'
	trail bool     // the glob ends with '*'
}

// Compile compiles one glob. Every string is a valid glob.
func Compile(text string) Pattern {
	p := Pattern{text: text, parts: strings.Split(text, "*")}
	p.lead = strings.HasPrefix(text, "*")
	p.trail = strings.HasSuffix(text, "*")
	return p
}

// String returns the glob as written.
func (p Pattern) String() string { return p.text }

// Match reports whether s matches the whole glob.
func (p Pattern) Match(s string) bool {
	if len(p.parts) == 1 {
		return s == p.text // no star: a literal
	}
	first, last := p.parts[0], p.parts[len(p.parts)-1]
	if !strings.HasPrefix(s, first) {
		return false
	}
	s = s[len(first):]
	middle := p.parts[1 : len(p.parts)-1]
	for _, part := range middle {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	// The leftmost placement of the middle parts leaves the most room
	// for the last one, so this suffix test is exact.
	return strings.HasSuffix(s, last)
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
