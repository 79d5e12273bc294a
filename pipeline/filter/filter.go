// Package filter hides tools, prompts and resources from clients: list
// results lose what is hidden (every page of them), and a call, get, read or
// subscribe of a hidden name is answered as an upstream answers an unknown
// one (-32602), without reaching the server.
//
// A name is visible when it matches no deny glob and, if there are allow
// globs, one of them: deny wins over allow.
package filter

import (
	"github.com/caddy-mcp/caddy-mcp/pipeline/glob"
)

// Rules are the allow and deny globs of one kind of name.
type Rules struct {
	// Allow lists globs of the visible names; empty means every name not denied.
	Allow []string `json:"allow,omitempty"`
	// Deny lists globs of hidden names; deny wins over allow.
	Deny []string `json:"deny,omitempty"`
}

// Config is what a filter hides.
type Config struct {
	// Tools filters tool names (tools/list, tools/call).
	Tools *Rules `json:"tools,omitempty"`
	// Prompts filters prompt names (prompts/list, prompts/get).
	Prompts *Rules `json:"prompts,omitempty"`
	// Resources filters resource URIs and URI templates (resources/list,
	// resources/templates/list, resources/read, subscribe, unsubscribe).
	Resources *Rules `json:"resources,omitempty"`
}

// KindOf is the kind of the patterns of a kind of name: tools and
// prompts are names, resources URIs.
func KindOf(kind string) glob.Kind {
	if kind == "resources" {
		return glob.URI
	}
	return glob.Name
}

// Check checks the patterns (glob.Check): a name pattern that can only be
// a regexp is the error; the warnings are of URI patterns that look like
// regexps.
func (c Config) Check() (warnings []string, err error) {
	for _, k := range []struct {
		kind  string
		rules *Rules
	}{{"tools", c.Tools}, {"prompts", c.Prompts}, {"resources", c.Resources}} {
		if k.rules == nil {
			continue
		}
		for _, l := range []struct {
			line     string
			patterns []string
		}{{"allow", k.rules.Allow}, {"deny", k.rules.Deny}} {
			w, err := glob.CheckList(k.kind+" "+l.line, KindOf(k.kind), l.patterns)
			if err != nil {
				return nil, err
			}
			warnings = append(warnings, w...)
		}
	}
	return warnings, nil
}

// visibility is compiled Rules; nil lets everything through.
type visibility struct {
	allow, deny glob.Set
}

func compileRules(r *Rules) *visibility {
	if r == nil || len(r.Allow) == 0 && len(r.Deny) == 0 {
		return nil
	}
	return &visibility{allow: glob.CompileSet(r.Allow), deny: glob.CompileSet(r.Deny)}
}

// visible reports whether name may be seen and used.
func (v *visibility) visible(name string) bool {
	if v == nil {
		return true
	}
	if v.deny.Match(name) {
		return false
	}
	return v.allow == nil || v.allow.Match(name)
}
