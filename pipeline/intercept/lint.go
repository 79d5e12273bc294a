package intercept

import (
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline/glob"
)

// checkPatterns checks the rule's globs (glob.Check): tool, prompt and
// method globs that can only be regexps are the error, resource globs
// that look like regexps the warnings.
func (r Rule) checkPatterns() (warnings []string, err error) {
	for _, l := range []struct {
		what     string
		kind     glob.Kind
		patterns []string
	}{
		{"method", glob.Name, r.Methods},
		{"server", glob.Name, r.Servers},
		{"tool", glob.Name, r.Tools},
		{"prompt", glob.Name, r.Prompts},
		{"resource", glob.URI, r.Resources},
	} {
		w, err := glob.CheckList(l.what, l.kind, l.patterns)
		if err != nil {
			return nil, err
		}
		warnings = append(warnings, w...)
	}
	return warnings, nil
}

// RuleName is the name rule number n (from 0) goes by: its own, else
// rule-<n+1>.
func RuleName(n int, r Rule) string {
	if r.Name != "" {
		return r.Name
	}
	return fmt.Sprintf("rule-%d", n+1)
}

// Shadow is a rule that can never apply: an earlier rule ends the
// evaluation of every message it matches.
type Shadow struct {
	Earlier, Later int // indexes in the rules
}

// Unreachable lists the rules an earlier one makes unreachable, each once
// (with the first such earlier rule). The check is conservative: the
// earlier rule must end with block or mock (a pause may continue), must
// have no field, user or expression matcher the later one does not
// repeat exactly, must apply in every direction the later one does, and
// each of its glob lists must be empty or cover the later one's
// (covers). A rule reported is unreachable; one not reported may still be.
func Unreachable(rules []Rule) []Shadow {
	var out []Shadow
	for j := range rules {
		for i := range j {
			if shadows(rules[i], rules[j]) {
				out = append(out, Shadow{Earlier: i, Later: j})
				break
			}
		}
	}
	return out
}

// shadows reports whether rule a, evaluated before b, leaves b nothing.
func shadows(a, b Rule) bool {
	if len(a.Actions) == 0 || !endsForSure(a.Actions[len(a.Actions)-1].Action) {
		return false
	}
	if len(a.Fields) > 0 || a.Expression != "" {
		return false
	}
	// With servers, tool and prompt globs are the servers' own names, not
	// comparable with client-visible ones.
	if (len(a.Servers) > 0) != (len(b.Servers) > 0) || !coversAll(a.Servers, b.Servers) {
		return false
	}
	if len(a.Users) > 0 && (len(b.Users) == 0 || !subset(b.Users, a.Users)) {
		return false
	}
	toServer, toClient := directions(a.Direction)
	bToServer, bToClient := directions(b.Direction)
	if bToServer && !toServer || bToClient && !toClient {
		return false
	}
	return coversAll(a.Methods, methodsOf(b)) && coversAll(a.Tools, b.Tools) &&
		coversAll(a.Prompts, b.Prompts) && coversAll(a.Resources, b.Resources)
}

// endsForSure: block and mock end the evaluation whatever happens; a
// pause may be continued.
func endsForSure(action string) bool { return action == ActionBlock || action == ActionMock }

func directions(d string) (toServer, toClient bool) {
	switch d {
	case DirectionToClient:
		return false, true
	case DirectionBoth:
		return true, true
	}
	return true, false
}

// methodsOf is the method globs rule r can match: its own, else those its
// tool, prompt or resource globs imply, else any.
func methodsOf(r Rule) []string {
	switch {
	case len(r.Methods) > 0:
		return r.Methods
	case len(r.Tools) > 0:
		return []string{"tools/call"}
	case len(r.Prompts) > 0:
		return []string{"prompts/get", "completion/complete"}
	case len(r.Resources) > 0:
		return []string{"resources/read", "resources/subscribe", "resources/unsubscribe", "completion/complete"}
	}
	return []string{"*"}
}

// coversAll reports whether the globs a match everything the globs b do:
// no globs match anything; otherwise each of b must be covered by one of a.
func coversAll(a, b []string) bool {
	if len(a) == 0 {
		return true
	}
	if len(b) == 0 {
		return false
	}
	return !slices.ContainsFunc(b, func(g string) bool {
		return !slices.ContainsFunc(a, func(f string) bool { return covers(f, g) })
	})
}

// covers reports whether glob a matches every string glob b matches, in
// the cases it can tell: b a literal, a `*`, a equal to b, or a of one
// star (prefix*suffix) whose prefix starts b's leading literal and whose
// suffix ends b's trailing one. Otherwise it says no.
func covers(a, b string) bool {
	if a == b || a == "*" {
		return true
	}
	if !strings.Contains(b, "*") {
		return glob.Match(a, b)
	}
	if strings.Count(a, "*") != 1 {
		return false
	}
	prefix, suffix, _ := strings.Cut(a, "*")
	lead := b[:strings.IndexByte(b, '*')]
	trail := b[strings.LastIndexByte(b, '*')+1:]
	return strings.HasPrefix(lead, prefix) && strings.HasSuffix(trail, suffix)
}

// subset reports whether every element of a is in b.
func subset(a, b []string) bool {
	return !slices.ContainsFunc(a, func(x string) bool { return !slices.Contains(b, x) })
}

// warn logs what the rules' globs and order probably got wrong: resource
// globs that look like regexps, and rules an earlier one makes
// unreachable.
func warn(rules []Rule, logger *zap.Logger) {
	for i, r := range rules {
		warnings, _ := r.checkPatterns() // compile refused the errors
		for _, w := range warnings {
			logger.Warn(fmt.Sprintf("intercept rule %q: %s", RuleName(i, r), w))
		}
	}
	for _, s := range Unreachable(rules) {
		logger.Warn(ShadowMessage(rules, s, "", ""))
	}
}

// ShadowMessage says that a rule can never apply and why; where says
// where each rule is written, when known (e.g. "Caddyfile:12").
func ShadowMessage(rules []Rule, s Shadow, laterAt, earlierAt string) string {
	at := func(where string) string {
		if where == "" {
			return ""
		}
		return " (" + where + ")"
	}
	earlier := rules[s.Earlier]
	return fmt.Sprintf("intercept rule %q%s can never apply: rule %q%s before it %ss every message it matches (order the specific rule first)",
		RuleName(s.Later, rules[s.Later]), at(laterAt), RuleName(s.Earlier, earlier), at(earlierAt), earlier.Actions[len(earlier.Actions)-1].Action)
}
