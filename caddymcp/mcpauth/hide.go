package mcpauth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/oauth"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/filter"
	"github.com/caddy-mcp/caddy-mcp/pipeline/glob"
)

// How hide_unauthorized works: mcp_auth, for each request it lets
// through, turns the scope rules the token does not satisfy into a
// filter.Config of what the token may not see and puts it on the request
// as the claim {http.auth.user.mcp_auth_hidden} (JSON). mcp_proxy, when
// its configuration has an mcp_auth with hide_unauthorized, runs
// hideStage first in its pipeline: it applies that claim with the filter
// stage's machinery, so lists lose the names (every page) and a call of
// one gets the filter's unknown-name error (-32602). A response is
// filtered with the claims of the request it answers (front keeps them
// per request), so a 2025 session's lists follow the token of the POST
// that asked, not the one that opened the session.

// hideKinds are the filter's kinds of name and the methods that name
// one: a scope rule hides a name of a kind when it applies to one of them.
var hideKinds = []struct {
	methods []string
	rules   func(*filter.Config) **filter.Rules
}{
	{[]string{"tools/call"}, func(c *filter.Config) **filter.Rules { return &c.Tools }},
	{[]string{"prompts/get"}, func(c *filter.Config) **filter.Rules { return &c.Prompts }},
	{[]string{"resources/read", "resources/subscribe", "resources/unsubscribe"}, func(c *filter.Config) **filter.Rules { return &c.Resources }},
}

// checkHideRules refuses what hide_unauthorized cannot do: hide with no
// scope rule.
func (h *AuthHandler) checkHideRules() error {
	if len(h.ScopeRules) == 0 {
		return fmt.Errorf("hide_unauthorized hides what scope rules ask more scopes for, and there is none: add a scope <scope...> { tool <glob...> } block")
	}
	return nil
}

// hiddenConfig is what a token with scopes may not see: for each scope
// rule it does not satisfy, the rule's tool globs (every name when it has
// none) in each kind of name the rule applies to; nil when nothing.
func (h *AuthHandler) hiddenConfig(scopes []string) *filter.Config {
	var c filter.Config
	hidden := false
	for _, rule := range h.ScopeRules {
		if oauth.MissingScopes(scopes, rule.Scopes) == nil {
			continue
		}
		globs := rule.Tools
		if len(globs) == 0 {
			globs = []string{"*"}
		}
		for _, k := range hideKinds {
			if len(rule.Methods) > 0 && !slices.ContainsFunc(k.methods, func(m string) bool { return glob.MatchAny(rule.Methods, m) }) {
				continue
			}
			r := k.rules(&c)
			if *r == nil {
				*r = &filter.Rules{}
			}
			(*r).Deny = append((*r).Deny, globs...)
			hidden = true
		}
	}
	if !hidden {
		return nil
	}
	return &c
}

// hiding is a token's hidden set, as the claim and as a filter.
type hiding struct {
	claim  string
	filter *filter.Filter
}

// hidings keeps the hidden sets of the scope sets seen, bounded by
// maxHidings (then emptied: they are cheap to compute again).
type hidings struct {
	mu   sync.RWMutex
	byID map[string]*hiding // by the token's scopes, NUL-joined; nil value: nothing hidden
}

// hidingFor returns what a token with scopes may not see, nil when
// nothing. Tokens with the same scopes share one.
func (h *AuthHandler) hidingFor(scopes []string) *hiding {
	key := strings.Join(scopes, "\x00") // a scope never holds NUL; a space it may (scp arrays)
	c := h.hidings
	c.mu.RLock()
	hd, ok := c.byID[key]
	c.mu.RUnlock()
	if ok {
		return hd
	}
	hd = h.newHiding(scopes)
	c.mu.Lock()
	if len(c.byID) >= maxHidings {
		clear(c.byID)
	}
	c.byID[key] = hd
	c.mu.Unlock()
	return hd
}

// newHiding computes what a token with scopes may not see.
func (h *AuthHandler) newHiding(scopes []string) *hiding {
	var hd *hiding
	if cfg := h.hiddenConfig(scopes); cfg != nil {
		raw, err := json.Marshal(cfg)
		if err != nil {
			return nil // a Config of strings always marshals
		}
		hd = &hiding{claim: string(raw), filter: filter.New(*cfg)}
	}
	return hd
}

// maxHidings bounds the scope sets whose hidden set is kept; beyond it
// they are computed for each request.
const maxHidings = 1024

// visibleMessages drops the messages the filter will answer itself (a
// call of a hidden name): they need no scope, since they never reach the
// upstream.
func visibleMessages(hd *hiding, msgs []*pipeline.Message) []*pipeline.Message {
	if hd == nil {
		return msgs
	}
	ex := &pipeline.Exchange{Direction: pipeline.ToServer}
	return slices.DeleteFunc(slices.Clone(msgs), func(m *pipeline.Message) bool {
		return hd.filter.Handle(context.Background(), ex, m).Action == pipeline.Respond
	})
}

// provisionHide checks the rules and tells the configuration's mcp_proxy
// handlers (provisioned after this one) to run the hide stage.
func (h *AuthHandler) provisionHide(ctx caddy.Context) error {
	if err := h.checkHideRules(); err != nil {
		return err
	}
	app, err := mcpstate.SharedOf(ctx)
	if err != nil {
		return err
	}
	app.HideUnauthorized.Store(true)
	h.hidings = &hidings{byID: make(map[string]*hiding)}
	return nil
}

// setHidden puts what the token may not see on the request, for
// mcp_proxy's hide stage.
func (h *AuthHandler) setHidden(r *http.Request, hd *hiding) {
	if hd == nil {
		return
	}
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set("http.auth.user."+mcpstate.HiddenClaim, hd.claim)
	}
}
