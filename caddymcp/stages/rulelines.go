package stages

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/pipeline/glob"
	"github.com/caddy-mcp/caddy-mcp/pipeline/intercept"
)

// ruleLines parse the lines of an intercept block, by keyword: the
// matchers, then the actions (the syntax is in caddyfile.go).
var ruleLines = map[string]func(*ruleLine) error{
	"direction":  (*ruleLine).direction,
	"method":     func(l *ruleLine) error { return l.globs(glob.Name, &l.r.Methods) },
	"server":     func(l *ruleLine) error { return l.globs(glob.Name, &l.r.Servers) },
	"tool":       func(l *ruleLine) error { return l.globs(glob.Name, &l.r.Tools) },
	"prompt":     func(l *ruleLine) error { return l.globs(glob.Name, &l.r.Prompts) },
	"resource":   func(l *ruleLine) error { return l.globs(glob.URI, &l.r.Resources) },
	"field":      (*ruleLine).field,
	"user":       (*ruleLine).user,
	"expression": (*ruleLine).expression,

	intercept.ActionBlock:  (*ruleLine).block,
	intercept.ActionMock:   (*ruleLine).mock,
	intercept.ActionSet:    (*ruleLine).set,
	intercept.ActionRemove: (*ruleLine).remove,
	intercept.ActionDelay:  (*ruleLine).delay,
	intercept.ActionLog:    (*ruleLine).log,
	intercept.ActionPause:  (*ruleLine).pause,
}

// parseRuleLine parses one line of an intercept block into r, checking what
// it can on its own so that the error names this line.
func parseRuleLine(d *caddyfile.Dispenser, r *intercept.Rule) error {
	l := &ruleLine{d: d, r: r, keyword: d.Val()}
	l.args = d.RemainingArgs()
	parse, ok := ruleLines[l.keyword]
	if !ok {
		return mcphttp.UnknownKeyword(d, "intercept", l.keyword, slices.Sorted(maps.Keys(ruleLines)))
	}
	return parse(l)
}

// ruleLine is one line of an intercept block being parsed: its keyword and
// arguments, and the rule it adds to. Errors are reported at the line's
// last token, where the dispenser stands.
type ruleLine struct {
	d       *caddyfile.Dispenser
	r       *intercept.Rule
	keyword string
	args    []string
}

// need checks the line has exactly n arguments.
func (l *ruleLine) need(n int, usage string) error {
	if len(l.args) != n {
		return l.d.Errf("intercept: %s takes %s", l.keyword, usage)
	}
	return nil
}

// check compiles a rule of just this line's matcher or action.
func (l *ruleLine) check(probe intercept.Rule) error {
	if len(probe.Actions) == 0 {
		probe.Actions = []intercept.Action{{Action: intercept.ActionBlock}}
	}
	probe.Name = l.r.Name
	if _, err := intercept.New([]intercept.Rule{probe}, nil); err != nil {
		return l.d.Errf("%v", err)
	}
	return nil
}

// addAction checks action a on its own, then appends it to the rule.
func (l *ruleLine) addAction(a intercept.Action) error {
	if err := l.check(intercept.Rule{Actions: []intercept.Action{a}}); err != nil {
		return err
	}
	l.r.Actions = append(l.r.Actions, a)
	return nil
}

// The matchers.

func (l *ruleLine) direction() error {
	if err := l.need(1, "one argument: to_server, to_client or both"); err != nil {
		return err
	}
	if l.r.Direction != "" {
		return l.d.Err("intercept: direction is given twice")
	}
	l.r.Direction = l.args[0]
	return l.check(intercept.Rule{Direction: l.args[0]})
}

// globs adds the line's globs, of kind k, to a list of them (method,
// tool, prompt, resource).
func (l *ruleLine) globs(k glob.Kind, to *[]string) error {
	if len(l.args) == 0 {
		return l.d.Errf("intercept: %s needs at least one glob", l.keyword)
	}
	if err := mcphttp.CheckGlobs(l.d, "intercept: "+l.keyword, k, l.args); err != nil {
		return err
	}
	*to = append(*to, l.args...)
	return nil
}

func (l *ruleLine) field() error {
	if err := l.need(2, "two arguments: field <json-pointer> <regexp>, e.g. field /params/arguments/path ^/etc/"); err != nil {
		return err
	}
	f := intercept.Field{Pointer: l.args[0], Regexp: l.args[1]}
	if err := l.check(intercept.Rule{Fields: []intercept.Field{f}}); err != nil {
		return err
	}
	l.r.Fields = append(l.r.Fields, f)
	return nil
}

func (l *ruleLine) user() error {
	if len(l.args) == 0 {
		return l.d.Err("intercept: user needs at least one user id")
	}
	l.r.Users = append(l.r.Users, l.args...)
	return nil
}

func (l *ruleLine) expression() error {
	if len(l.args) == 0 {
		return l.d.Err("intercept: expression needs a CEL expression, best in backticks")
	}
	if l.r.Expression != "" {
		return l.d.Err("intercept: expression is given twice (combine them with &&)")
	}
	expr := strings.Join(l.args, " ") // as Caddy's expression matcher reads it
	if err := l.check(intercept.Rule{Expression: expr}); err != nil {
		return err
	}
	l.r.Expression = expr
	return nil
}

// The actions.

func (l *ruleLine) block() error {
	if len(l.args) > 1 {
		return l.d.Errf("intercept: block takes at most one argument, its message (quote it), got %d", len(l.args))
	}
	a := intercept.Action{Action: intercept.ActionBlock}
	if len(l.args) == 1 {
		a.Message = l.args[0]
	}
	return l.addAction(a)
}

func (l *ruleLine) mock() error {
	if err := l.need(1, "one argument, the result as a JSON object in backticks, e.g. mock `{\"content\":[]}`"); err != nil {
		return err
	}
	if !json.Valid([]byte(l.args[0])) {
		return l.d.Errf("intercept: mock: %q is not JSON (write the result as one token in backticks)", l.args[0])
	}
	return l.addAction(intercept.Action{Action: intercept.ActionMock, Result: json.RawMessage(l.args[0])})
}

func (l *ruleLine) set() error {
	if err := l.need(2, "two arguments: set <json-pointer> <json>, e.g. set /params/arguments/limit `10`"); err != nil {
		return err
	}
	if !json.Valid([]byte(l.args[1])) {
		return l.d.Errf("intercept: set %s: %q is not JSON (a string needs its quotes: `\"text\"`)", l.args[0], l.args[1])
	}
	return l.addAction(intercept.Action{Action: intercept.ActionSet, Pointer: l.args[0], Value: json.RawMessage(l.args[1])})
}

func (l *ruleLine) remove() error {
	if err := l.need(1, "one argument, a JSON pointer"); err != nil {
		return err
	}
	return l.addAction(intercept.Action{Action: intercept.ActionRemove, Pointer: l.args[0]})
}

func (l *ruleLine) delay() error {
	if err := l.need(1, "one duration: "+mcphttp.DurationForm); err != nil {
		return err
	}
	dur, err := mcphttp.ParseDuration(l.args[0])
	if err != nil {
		return l.d.Errf("intercept: delay: %v", err)
	}
	if dur <= 0 {
		return l.d.Errf("intercept: delay: want a positive duration, got %q", l.args[0])
	}
	return l.addAction(intercept.Action{Action: intercept.ActionDelay, Duration: dur.String()})
}

func (l *ruleLine) log() error {
	if len(l.args) > 1 {
		return l.d.Err("intercept: log takes at most one argument: debug, info, warn or error")
	}
	a := intercept.Action{Action: intercept.ActionLog}
	if len(l.args) == 1 {
		a.Level = l.args[0]
	}
	return l.addAction(a)
}

// pause parses `pause [<timeout>] [then continue|block]`.
func (l *ruleLine) pause() error {
	a := intercept.Action{Action: intercept.ActionPause}
	rest := l.args
	if len(rest) > 0 && rest[0] != "then" {
		dur, err := mcphttp.ParseDuration(rest[0])
		if err != nil {
			return l.d.Errf("intercept: pause: timeout: %v", err)
		}
		if dur <= 0 {
			return l.d.Errf("intercept: pause: want a positive timeout, got %q", rest[0])
		}
		a.Timeout = dur.String()
		rest = rest[1:]
	}
	switch {
	case len(rest) == 0:
	case len(rest) == 2 && rest[0] == "then":
		a.Then = rest[1]
	default:
		return l.d.Errf("intercept: pause takes [<timeout>] [then continue|block], got %q", strings.Join(l.args, " "))
	}
	return l.addAction(a)
}
