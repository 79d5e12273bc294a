package stages

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/pipeline/filter"
	"github.com/caddy-mcp/caddy-mcp/pipeline/glob"
	"github.com/caddy-mcp/caddy-mcp/pipeline/intercept"
)

// The pipeline's subdirectives of mcp_proxy:
//
//	intercept [<name>] {
//	    direction  to_server|to_client|both      # default to_server
//	    method     <glob...>
//	    server     <glob...>                     # federated server; tool/prompt/resource then match its own names
//	    tool       <glob...>
//	    prompt     <glob...>
//	    resource   <glob...>
//	    field      <json-pointer> <regexp>
//	    user       <id...>
//	    expression <cel>
//	    block      [<message>]
//	    mock       <json>
//	    set        <json-pointer> <json>
//	    remove     <json-pointer>
//	    delay      <duration>
//	    log        [debug|info|warn|error]
//	    pause      [<timeout>] [then continue|block]
//	}
//	max_held <n>
//	max_decode <size>
//	tools     { allow <glob...>; deny <glob...> }
//	prompts   { allow <glob...>; deny <glob...> }
//	resources { allow <glob...>; deny <glob...> }
//
// Every intercept block is one rule; the rules of an mcp_proxy form one
// intercept stage, evaluated in the order written. tools, prompts and
// resources form one filter stage, which comes before the rules: a request
// for a hidden name never reaches them, and a list result the rules changed
// is still filtered. JSON values (mock, set) are one token, best written in
// backticks; placeholders are not replaced in them.

// UnmarshalCaddyfile parses one of mcp_proxy's subdirectives that set up
// this stage: `intercept [<name>] { … }` adds a rule, `max_held <n>` sets
// MaxHeld, `max_decode <size>` MaxDecode. mcp_proxy calls it for each such subdirective, on the stage as
// parsed so far, so every intercept block of an mcp_proxy lands in one
// stage.
func (s *InterceptStage) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	switch d.Val() {
	case "max_held":
		return s.parseMaxHeld(d)
	case "max_decode":
		return s.parseMaxDecode(d)
	}
	return s.parseInterceptBlock(d)
}

// parseInterceptBlock parses one `intercept [<name>] { … }` and appends its
// rule to the stage.
func (s *InterceptStage) parseInterceptBlock(d *caddyfile.Dispenser) error {
	var r intercept.Rule
	if d.NextArg() {
		r.Name = d.Val()
		if d.NextArg() {
			return d.Errf("intercept takes at most one argument, the rule's name, got %q too", d.Val())
		}
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := parseRuleLine(d, &r); err != nil {
			return err
		}
	}
	if len(r.Actions) == 0 {
		return d.Errf("intercept %s: the rule has no action: add block, mock, set, remove, delay, log or pause", ruleLabel(r))
	}
	if _, err := intercept.New([]intercept.Rule{r}, nil); err != nil {
		return d.Errf("%v", err)
	}
	for _, other := range s.Rules {
		if r.Name != "" && other.Name == r.Name {
			return d.Errf("intercept %q: another rule has this name", r.Name)
		}
	}
	s.Rules = append(s.Rules, r)
	return nil
}

func ruleLabel(r intercept.Rule) string {
	if r.Name == "" {
		return "(unnamed)"
	}
	return r.Name
}

// parseMaxHeld parses `max_held <n>`: how many messages the endpoint's
// pause rules hold at once.
func (s *InterceptStage) parseMaxHeld(d *caddyfile.Dispenser) error {
	n, err := mcphttp.PositiveIntArg(d)
	if err != nil {
		return err
	}
	if s.MaxHeld != 0 {
		return d.Err("max_held is given twice")
	}
	s.MaxHeld = n
	return nil
}

// parseMaxDecode parses `max_decode <size>`: the largest JSON value the
// endpoint's rules decode.
func (s *InterceptStage) parseMaxDecode(d *caddyfile.Dispenser) error {
	n, err := mcphttp.SizeArg(d)
	if err != nil {
		return err
	}
	if s.MaxDecode != 0 {
		return d.Err("max_decode is given twice")
	}
	s.MaxDecode = n
	return nil
}

// UnmarshalCaddyfile parses one of mcp_proxy's subdirectives
// `tools|prompts|resources { allow …; deny … }` into the stage. mcp_proxy
// calls it for each, on the stage as parsed so far, so the three blocks
// of an mcp_proxy land in one stage.
func (s *FilterStage) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	kind := d.Val()
	if d.NextArg() {
		return d.Errf("%s takes a block ({ allow <glob...>  deny <glob...> }), not %q", kind, d.Val())
	}
	var rules filter.Rules
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := filterKeywords.Parse(kind, filterBlock{&rules, kind, filter.KindOf(kind)}, d); err != nil {
			return err
		}
	}
	if len(rules.Allow) == 0 && len(rules.Deny) == 0 {
		return d.Errf("%s: the block is empty: add allow <glob...> or deny <glob...>", kind)
	}
	slot := map[string]**filter.Rules{"tools": &s.Tools, "prompts": &s.Prompts, "resources": &s.Resources}[kind]
	if *slot != nil {
		return d.Errf("%s is given twice in this mcp_proxy (put every allow and deny line in one block)", kind)
	}
	*slot = &rules
	return nil
}

// filterBlock is what the lines of a tools, prompts or resources block
// set, and the kind of their patterns.
type filterBlock struct {
	rules *filter.Rules
	name  string // tools, prompts or resources
	kind  glob.Kind
}

// filterKeywords are the lines of a tools, prompts or resources block.
var filterKeywords = mcphttp.Keywords[filterBlock]{
	"allow": func(b filterBlock, d *caddyfile.Dispenser) error {
		return mcphttp.GlobArgs(d, b.name, b.kind, &b.rules.Allow)
	},
	"deny": func(b filterBlock, d *caddyfile.Dispenser) error {
		return mcphttp.GlobArgs(d, b.name, b.kind, &b.rules.Deny)
	},
}

// Interface guards.
var (
	_ caddyfile.Unmarshaler = (*InterceptStage)(nil)
	_ caddyfile.Unmarshaler = (*FilterStage)(nil)
)
