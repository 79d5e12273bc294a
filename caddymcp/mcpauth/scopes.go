package mcpauth

import (
	"errors"
	"fmt"
	"slices"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/glob"
)

// ScopeRule asks for more scopes than required_scopes for some
// operations: a message whose JSON-RPC method matches one of Methods and
// whose tool, prompt or resource matches one of Tools (an empty list
// matches anything) needs every scope of Scopes too.
type ScopeRule struct {
	// Scopes are needed on top of required_scopes.
	Scopes []string `json:"scopes"`
	// Tools are globs of the tool, prompt or resource a message names
	// (params.name of tools/call and prompts/get, params.uri of
	// resources/read and resources/(un)subscribe), as the mcp matcher's
	// tool; a message that names none does not match them.
	Tools []string `json:"tools,omitempty"`
	// Methods are globs of JSON-RPC methods (e.g. tools/call, resources/*).
	Methods []string `json:"methods,omitempty"`
}

// validate checks a rule.
func (s ScopeRule) validate() error {
	if len(s.Scopes) == 0 {
		return errors.New("a scope rule needs at least one scope")
	}
	if len(s.Tools) == 0 && len(s.Methods) == 0 {
		return fmt.Errorf("scope %v: say which operations need it (tool <glob...> and/or method <glob...>); for every request use required_scopes", s.Scopes)
	}
	if _, err := s.checkGlobs(); err != nil {
		return fmt.Errorf("scope %v: %w", s.Scopes, err)
	}
	return nil
}

// checkGlobs checks the rule's globs (glob.Check): the error is of a name
// glob that can only be a regexp, the warnings of URI globs that look
// like one.
func (s ScopeRule) checkGlobs() (warnings []string, err error) {
	if _, err := glob.CheckList("method", glob.Name, s.Methods); err != nil {
		return nil, err
	}
	return glob.CheckList("tool", glob.NameOrURI, s.Tools)
}

// applies reports whether msg needs the rule's scopes. Responses (the
// client answering a server request) have no method and need none.
func (s ScopeRule) applies(msg *pipeline.Message) bool {
	if msg.Method == "" {
		return false
	}
	if len(s.Methods) > 0 && !glob.MatchAny(s.Methods, msg.Method) {
		return false
	}
	if len(s.Tools) == 0 {
		return true
	}
	target := msg.Target()
	return target != "" && glob.MatchAny(s.Tools, target)
}

// neededScopes is every scope the messages of one request need together:
// required_scopes, then those of each rule that applies to any of them,
// each once, in configuration order — so one 403 can name them all.
func (h *AuthHandler) neededScopes(msgs []*pipeline.Message) []string {
	need := slices.Clone(h.RequiredScopes)
	for _, rule := range h.ScopeRules {
		if !slices.ContainsFunc(msgs, rule.applies) {
			continue
		}
		for _, s := range rule.Scopes {
			if !slices.Contains(need, s) {
				need = append(need, s)
			}
		}
	}
	return need
}
