package stages

import (
	"encoding/json"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/pipeline/filter"
	"github.com/caddy-mcp/caddy-mcp/pipeline/intercept"
)

// The pipeline's subdirectives of mcp_proxy:
//
//	intercept [<name>] {
//	    direction  to_server|to_client|both      # default to_server
//	    method     <glob...>
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

// parseRuleLine parses one line of an intercept block into r, checking what
// it can on its own so that the error names this line.
func parseRuleLine(d *caddyfile.Dispenser, r *intercept.Rule) error {
	line := d.Val()
	args := d.RemainingArgs()
	need := func(n int, usage string) error {
		if len(args) != n {
			return d.Errf("intercept: %s takes %s", line, usage)
		}
		return nil
	}
	atLeastOne := func() error {
		if len(args) == 0 {
			return d.Errf("intercept: %s needs at least one glob", line)
		}
		return nil
	}
	// check compiles a rule of just this line's matcher or action.
	check := func(probe intercept.Rule) error {
		if len(probe.Actions) == 0 {
			probe.Actions = []intercept.Action{{Action: intercept.ActionBlock}}
		}
		probe.Name = r.Name
		if _, err := intercept.New([]intercept.Rule{probe}, nil); err != nil {
			return d.Errf("%v", err)
		}
		return nil
	}
	addAction := func(a intercept.Action) error {
		if err := check(intercept.Rule{Actions: []intercept.Action{a}}); err != nil {
			return err
		}
		r.Actions = append(r.Actions, a)
		return nil
	}
	switch line {
	case "direction":
		if err := need(1, "one argument: to_server, to_client or both"); err != nil {
			return err
		}
		if r.Direction != "" {
			return d.Err("intercept: direction is given twice")
		}
		r.Direction = args[0]
		return check(intercept.Rule{Direction: args[0]})
	case "method":
		if err := atLeastOne(); err != nil {
			return err
		}
		r.Methods = append(r.Methods, args...)
	case "tool":
		if err := atLeastOne(); err != nil {
			return err
		}
		r.Tools = append(r.Tools, args...)
	case "prompt":
		if err := atLeastOne(); err != nil {
			return err
		}
		r.Prompts = append(r.Prompts, args...)
	case "resource":
		if err := atLeastOne(); err != nil {
			return err
		}
		r.Resources = append(r.Resources, args...)
	case "field":
		if err := need(2, "two arguments: field <json-pointer> <regexp>, e.g. field /params/arguments/path ^/etc/"); err != nil {
			return err
		}
		f := intercept.Field{Pointer: args[0], Regexp: args[1]}
		if err := check(intercept.Rule{Fields: []intercept.Field{f}}); err != nil {
			return err
		}
		r.Fields = append(r.Fields, f)
	case "user":
		if len(args) == 0 {
			return d.Err("intercept: user needs at least one user id")
		}
		r.Users = append(r.Users, args...)
	case "expression":
		if len(args) == 0 {
			return d.Err("intercept: expression needs a CEL expression, best in backticks")
		}
		if r.Expression != "" {
			return d.Err("intercept: expression is given twice (combine them with &&)")
		}
		expr := strings.Join(args, " ") // as Caddy's expression matcher reads it
		if err := check(intercept.Rule{Expression: expr}); err != nil {
			return err
		}
		r.Expression = expr
	case intercept.ActionBlock:
		if len(args) > 1 {
			return d.Errf("intercept: block takes at most one argument, its message (quote it), got %d", len(args))
		}
		a := intercept.Action{Action: intercept.ActionBlock}
		if len(args) == 1 {
			a.Message = args[0]
		}
		return addAction(a)
	case intercept.ActionMock:
		if err := need(1, "one argument, the result as a JSON object in backticks, e.g. mock `{\"content\":[]}`"); err != nil {
			return err
		}
		if !json.Valid([]byte(args[0])) {
			return d.Errf("intercept: mock: %q is not JSON (write the result as one token in backticks)", args[0])
		}
		return addAction(intercept.Action{Action: intercept.ActionMock, Result: json.RawMessage(args[0])})
	case intercept.ActionSet:
		if err := need(2, "two arguments: set <json-pointer> <json>, e.g. set /params/arguments/limit `10`"); err != nil {
			return err
		}
		if !json.Valid([]byte(args[1])) {
			return d.Errf("intercept: set %s: %q is not JSON (a string needs its quotes: `\"text\"`)", args[0], args[1])
		}
		return addAction(intercept.Action{Action: intercept.ActionSet, Pointer: args[0], Value: json.RawMessage(args[1])})
	case intercept.ActionRemove:
		if err := need(1, "one argument, a JSON pointer"); err != nil {
			return err
		}
		return addAction(intercept.Action{Action: intercept.ActionRemove, Pointer: args[0]})
	case intercept.ActionDelay:
		if err := need(1, "one argument, a duration"); err != nil {
			return err
		}
		dur, err := caddy.ParseDuration(args[0])
		if err != nil || dur <= 0 {
			return d.Errf("intercept: delay: want a positive duration, got %q", args[0])
		}
		return addAction(intercept.Action{Action: intercept.ActionDelay, Duration: dur.String()})
	case intercept.ActionLog:
		if len(args) > 1 {
			return d.Err("intercept: log takes at most one argument: debug, info, warn or error")
		}
		a := intercept.Action{Action: intercept.ActionLog}
		if len(args) == 1 {
			a.Level = args[0]
		}
		return addAction(a)
	case intercept.ActionPause:
		a := intercept.Action{Action: intercept.ActionPause}
		rest := args
		if len(rest) > 0 && rest[0] != "then" {
			dur, err := caddy.ParseDuration(rest[0])
			if err != nil || dur <= 0 {
				return d.Errf("intercept: pause: want a positive timeout, got %q", rest[0])
			}
			a.Timeout = dur.String()
			rest = rest[1:]
		}
		switch {
		case len(rest) == 0:
		case len(rest) == 2 && rest[0] == "then":
			a.Then = rest[1]
		default:
			return d.Errf("intercept: pause takes [<timeout>] [then continue|block], got %q", strings.Join(args, " "))
		}
		return addAction(a)
	default:
		return d.Errf("intercept: unrecognized line %q (matchers: direction, method, tool, prompt, resource, field, user, expression; "+
			"actions: block, mock, set, remove, delay, log, pause)", line)
	}
	return nil
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
		line := d.Val()
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.Errf("%s: %s needs at least one glob", kind, line)
		}
		switch line {
		case "allow":
			rules.Allow = append(rules.Allow, args...)
		case "deny":
			rules.Deny = append(rules.Deny, args...)
		default:
			return d.Errf("%s: unrecognized line %q (want allow or deny)", kind, line)
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

// Interface guards.
var (
	_ caddyfile.Unmarshaler = (*InterceptStage)(nil)
	_ caddyfile.Unmarshaler = (*FilterStage)(nil)
)
