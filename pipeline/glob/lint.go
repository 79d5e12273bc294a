package glob

import (
	"fmt"
	"strings"
)

// Kind is what a pattern matches, which decides what in it can only be a
// regular expression's (docs/patterns.md).
type Kind int

const (
	// Name is a tool, prompt or method name. MCP's tool names are letters,
	// digits, '_', '-' and '.', so regexp syntax in one is a mistake.
	Name Kind = iota
	// URI is a resource URI, where '?', '[', '+' and '(' are legitimate:
	// only the unambiguous regexp forms (`.*`, a leading ^, a trailing $)
	// are suspect.
	URI
	// NameOrURI is either, told apart by KindOf, for the patterns that
	// match a tool or prompt name or a resource URI alike.
	NameOrURI
)

// KindOf is the kind of a pattern that may match either a name or a URI
// (the mcp matcher's tool and mcp_auth's scope tool, which match a tool
// or prompt name or a resource URI): a URI when it holds ':' or '/',
// which no tool name does.
func KindOf(pattern string) Kind {
	if strings.ContainsAny(pattern, ":/") {
		return URI
	}
	return Name
}

// dialect says what a pattern is, for the messages.
const dialect = "patterns are globs: `*` matches any run of characters and every other character matches itself"

// Check checks a pattern of kind k for what reads as a regular expression.
// A name pattern that does is an error; a URI pattern gets a warning
// instead, as the same characters may be meant literally there. Either
// says the dialect and, when it can, the glob that was probably meant.
func Check(k Kind, pattern string) (warning string, err error) {
	if k == NameOrURI {
		k = KindOf(pattern)
	}
	if k == URI {
		if uriLooksRegexp(pattern) {
			return fmt.Sprintf("%q looks like a regular expression, but %s (so `.`, `^` and `$` must be in the URI)%s",
				pattern, dialect, didYouMean(pattern, suggestURI(pattern))), nil
		}
		return "", nil
	}
	if form := nameRegexpForm(pattern); form != "" {
		return "", fmt.Errorf("%q looks like a regular expression (%s), but %s%s",
			pattern, form, dialect, didYouMean(pattern, suggestName(pattern)))
	}
	return "", nil
}

// CheckList checks each of a list of patterns of kind k, which a
// configuration calls what (e.g. "tools deny"): the first refusal is the
// error, the warnings come in order. Both start with what.
func CheckList(what string, k Kind, patterns []string) (warnings []string, err error) {
	for _, p := range patterns {
		w, err := Check(k, p)
		if err != nil {
			return warnings, fmt.Errorf("%s: %w", what, err)
		}
		if w != "" {
			warnings = append(warnings, what+": "+w)
		}
	}
	return warnings, nil
}

func didYouMean(pattern, suggestion string) string {
	if suggestion == "" || suggestion == pattern {
		return ""
	}
	return fmt.Sprintf("; did you mean `%s`?", suggestion)
}

// nameRegexpForm names the regexp syntax in a name pattern, "" if none.
// A `.*` right after a letter or digit is a dotted namespace
// (`github.*`), which tool names may have; anywhere else it is a regexp's.
func nameRegexpForm(p string) string {
	if i := strings.IndexAny(p, `^$[]+?\|(){}`); i >= 0 {
		return fmt.Sprintf("`%c`", p[i])
	}
	for i := strings.Index(p, ".*"); i >= 0; {
		if i == 0 || !isAlnum(p[i-1]) {
			return "`.*`"
		}
		next := strings.Index(p[i+2:], ".*")
		if next < 0 {
			break
		}
		i += 2 + next
	}
	return ""
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// uriLooksRegexp reports whether a URI pattern has an unambiguous regexp
// form: `.*`, a leading ^ or a trailing $.
func uriLooksRegexp(p string) bool {
	return strings.Contains(p, ".*") || strings.HasPrefix(p, "^") || strings.HasSuffix(p, "$")
}

// suggestURI is a URI pattern without its regexp forms.
func suggestURI(p string) string {
	p = strings.TrimSuffix(strings.TrimPrefix(p, "^"), "$")
	return collapseStars(strings.ReplaceAll(p, ".*", "*"))
}

// suggestName is the glob (or globs, space-separated, for alternatives)
// a name pattern written as a regexp probably meant: anchors dropped,
// `.*`, a character class, `\d` and the like, and `?` become `*`;
// `(a|b)` becomes one glob per alternative.
func suggestName(p string) string {
	p = strings.TrimSuffix(strings.TrimPrefix(p, "^"), "$")
	var alts []string
	if open := strings.IndexByte(p, '('); open >= 0 {
		if end := strings.IndexByte(p[open:], ')'); end > 0 && !strings.ContainsAny(p[open+1:open+end], "()") {
			for _, alt := range strings.Split(p[open+1:open+end], "|") {
				alts = append(alts, p[:open]+alt+p[open+end+1:])
			}
		}
	}
	if alts == nil {
		alts = strings.Split(p, "|")
	}
	for i, a := range alts {
		alts[i] = regexpToGlob(a)
	}
	return strings.Join(alts, " ")
}

// regexpToGlob turns one regexp without alternatives into a glob.
func regexpToGlob(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\' && i+1 < len(p):
			i++
			if strings.IndexByte("dwsDWS", p[i]) >= 0 {
				b.WriteByte('*')
			} else {
				b.WriteByte(p[i])
			}
		case c == '.' && i+1 < len(p) && strings.IndexByte("*+?{", p[i+1]) >= 0:
			b.WriteByte('*')
		case c == '[':
			if end := strings.IndexByte(p[i+1:], ']'); end >= 0 {
				i += end + 1
			}
			b.WriteByte('*')
		case c == '{':
			if end := strings.IndexByte(p[i:], '}'); end >= 0 {
				i += end
			}
			b.WriteByte('*')
		case c == '?' || c == '+':
			b.WriteByte('*')
		case strings.IndexByte("^$()|]}", c) >= 0:
		default:
			b.WriteByte(c)
		}
	}
	return collapseStars(b.String())
}

func collapseStars(s string) string {
	for strings.Contains(s, "**") {
		s = strings.ReplaceAll(s, "**", "*")
	}
	return s
}
