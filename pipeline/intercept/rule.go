// Package intercept is the gateway's rule engine: rules that match MCP
// messages (by direction, method, tool, prompt, resource, a member's value,
// the user, or a CEL expression) and act on them (block, mock, set, remove,
// delay, log, pause). It is plain Go; the Caddy module in caddymcp builds an Engine
// from its configuration and puts it in the pipeline.
//
// Rules are evaluated in order. set, remove, delay and log go on to the next
// rule; block, mock and pause end the evaluation (a pause that ends in
// continue resumes with the next rule).
package intercept

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/glob"
)

// CodeBlocked is the JSON-RPC error code of a message a rule blocked. It is
// in the range JSON-RPC leaves to servers and used by neither the MCP
// specification nor the SDKs nor any other part of this gateway.
const CodeBlocked = -32030

// Directions a rule applies to.
const (
	DirectionToServer = "to_server"
	DirectionToClient = "to_client"
	DirectionBoth     = "both"
)

// Action kinds.
const (
	ActionBlock  = "block"
	ActionMock   = "mock"
	ActionSet    = "set"
	ActionRemove = "remove"
	ActionDelay  = "delay"
	ActionLog    = "log"
	ActionPause  = "pause"
)

// DefaultPauseTimeout is how long a pause holds a message when the rule
// names no timeout.
const DefaultPauseTimeout = 5 * time.Minute

// What a pause does when nobody decided in time.
const (
	ThenBlock    = "block"
	ThenContinue = "continue"
)

// Rule is one interception rule: what it matches and what it does. Every
// matcher that is set must match (AND); the values of one matcher are
// alternatives (OR).
type Rule struct {
	// Name names the rule in logs and in the error.data of what it blocks
	// (default "rule-<n>", n counting from 1).
	Name string `json:"name,omitempty"`
	// Direction is to_server (default), to_client or both.
	Direction string `json:"direction,omitempty"`
	// Methods are globs of the message's method (for a response: the method
	// of the request it answers).
	Methods []string `json:"methods,omitempty"`
	// Servers are globs of the federated server a message concerns (the
	// name of a server block). With them, Tools, Prompts and Resources
	// match the server's own names rather than the client-visible ones.
	// On an endpoint of one server no message has a server, so a rule with
	// Servers never matches there.
	Servers []string `json:"servers,omitempty"`
	// Tools are globs of the tool a tools/call names (for a response: the
	// tool of the call it answers).
	Tools []string `json:"tools,omitempty"`
	// Prompts are globs of the prompt a prompts/get names.
	Prompts []string `json:"prompts,omitempty"`
	// Resources are globs of the URI a resources/read, subscribe or
	// unsubscribe names.
	Resources []string `json:"resources,omitempty"`
	// Fields match members of the message by JSON pointer and regexp; all of
	// them must match.
	Fields []Field `json:"fields,omitempty"`
	// Users are the user ids ({http.auth.user.id}) the rule applies to.
	Users []string `json:"users,omitempty"`
	// Expression is a CEL expression that must be true (see cel.go for its
	// variables).
	Expression string `json:"expression,omitempty"`
	// Actions are what the rule does, in order.
	Actions []Action `json:"actions"`
}

// Field matches a member of the message: the value at Pointer (from the
// message's root, e.g. /params/arguments/path) must match Regexp. A string
// is matched as it reads, any other value as its JSON text.
type Field struct {
	// Pointer is a JSON pointer (RFC 6901) into the message.
	Pointer string `json:"pointer"`
	// Regexp is a Go regular expression (RE2) the value must match.
	Regexp string `json:"regexp"`
}

// Action is one thing a rule does.
type Action struct {
	// Action is block, mock, set, remove, delay or log.
	Action string `json:"action"`
	// Message is the error message of block (default "blocked by the gateway's policy").
	Message string `json:"message,omitempty"`
	// Result is the JSON object mock answers with.
	Result json.RawMessage `json:"result,omitempty"`
	// Pointer is the member set or remove edits (a JSON pointer from the message's root).
	Pointer string `json:"pointer,omitempty"`
	// Value is the JSON value set writes.
	Value json.RawMessage `json:"value,omitempty"`
	// Duration is how long delay waits, in Go's syntax (e.g. 1.5s).
	Duration string `json:"duration,omitempty"`
	// Level is log's level: debug, info (default), warn or error.
	Level string `json:"level,omitempty"`
	// Timeout is how long pause holds the message (Go's syntax; default 5m).
	Timeout string `json:"timeout,omitempty"`
	// Then is what pause does when the timeout passes: block (default) or continue.
	Then string `json:"then,omitempty"`
}

// compiledRule is a Rule ready to match.
type compiledRule struct {
	name                    string
	toServer, toClient      bool
	methods, tools, prompts glob.Set
	servers                 glob.Set
	resources               glob.Set
	fields                  []compiledField
	users                   map[string]struct{}
	expr                    *expression
	actions                 []compiledAction
	blockData               string // the rule's name, JSON-encoded, for error.data
}

type compiledField struct {
	ptr pointer
	re  *regexp.Regexp
}

type compiledAction struct {
	kind    string
	message string
	result  json.RawMessage
	ptr     pointer
	value   []byte // set's value, compact
	delay   time.Duration
	level   logLevel
	then    string // pause: block or continue
}

// compile checks and compiles rule number n (from 0).
func compile(n int, r Rule) (*compiledRule, error) {
	c := &compiledRule{name: r.Name}
	if c.name == "" {
		c.name = fmt.Sprintf("rule-%d", n+1)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("intercept rule %q: %s", c.name, fmt.Sprintf(format, args...))
	}
	switch r.Direction {
	case "", DirectionToServer:
		c.toServer = true
	case DirectionToClient:
		c.toClient = true
	case DirectionBoth:
		c.toServer, c.toClient = true, true
	default:
		return nil, fail("direction %q: want to_server, to_client or both", r.Direction)
	}
	if _, err := r.checkPatterns(); err != nil {
		return nil, fail("%v", err)
	}
	c.methods = glob.CompileSet(r.Methods)
	c.servers = glob.CompileSet(r.Servers)
	c.tools = glob.CompileSet(r.Tools)
	c.prompts = glob.CompileSet(r.Prompts)
	c.resources = glob.CompileSet(r.Resources)
	for _, f := range r.Fields {
		ptr, err := parsePointer(f.Pointer)
		if err != nil {
			return nil, fail("field: %v", err)
		}
		re, err := regexp.Compile(f.Regexp)
		if err != nil {
			return nil, fail("field %s: %v", f.Pointer, err)
		}
		c.fields = append(c.fields, compiledField{ptr: ptr, re: re})
	}
	if len(r.Users) > 0 {
		c.users = make(map[string]struct{}, len(r.Users))
		for _, u := range r.Users {
			c.users[u] = struct{}{}
		}
	}
	if r.Expression != "" {
		e, err := compileExpression(r.Expression)
		if err != nil {
			return nil, fail("expression: %v", err)
		}
		c.expr = e
	}
	if len(r.Actions) == 0 {
		return nil, fail("no action (block, mock, set, remove, delay, log or pause)")
	}
	for i, a := range r.Actions {
		ca, err := compileAction(a)
		if err != nil {
			return nil, fail("%v", err)
		}
		if ends(ca.kind) && i != len(r.Actions)-1 {
			return nil, fail("%s ends the rule's evaluation, so it must be its last action (%s follows it)", ca.kind, r.Actions[i+1].Action)
		}
		c.actions = append(c.actions, ca)
	}
	name, _ := json.Marshal(c.name)
	c.blockData = string(name)
	return c, nil
}

// ends reports whether an action ends the evaluation of the rules.
func ends(kind string) bool { return kind == ActionBlock || kind == ActionMock || kind == ActionPause }

func compileAction(a Action) (compiledAction, error) {
	ca := compiledAction{kind: a.Action}
	switch a.Action {
	case ActionBlock:
		ca.message = a.Message
		if ca.message == "" {
			ca.message = "blocked by the gateway's policy"
		}
	case ActionMock:
		var obj map[string]any
		if err := json.Unmarshal(a.Result, &obj); err != nil || obj == nil {
			return ca, fmt.Errorf("mock: the result must be a JSON object, got %s", orNothing(a.Result))
		}
		ca.result = compact(a.Result)
	case ActionSet:
		ptr, err := parsePointer(a.Pointer)
		if err != nil {
			return ca, fmt.Errorf("set: %v", err)
		}
		if ptr.envelopeMember() {
			return ca, fmt.Errorf("set: %s cannot be changed (it decides what the message is)", a.Pointer)
		}
		if !json.Valid(a.Value) {
			return ca, fmt.Errorf("set %s: the value must be JSON, got %s", a.Pointer, orNothing(a.Value))
		}
		ca.ptr = ptr
		ca.value = compact(a.Value)
	case ActionRemove:
		ptr, err := parsePointer(a.Pointer)
		if err != nil {
			return ca, fmt.Errorf("remove: %v", err)
		}
		if ptr.envelopeMember() {
			return ca, fmt.Errorf("remove: %s cannot be removed (it decides what the message is)", a.Pointer)
		}
		ca.ptr = ptr
	case ActionDelay:
		d, err := time.ParseDuration(a.Duration)
		if err != nil || d <= 0 {
			return ca, fmt.Errorf("delay: want a positive duration, got %q", a.Duration)
		}
		ca.delay = d
	case ActionLog:
		lvl, err := parseLevel(a.Level)
		if err != nil {
			return ca, fmt.Errorf("log: %v", err)
		}
		ca.level = lvl
	case ActionPause:
		ca.delay = DefaultPauseTimeout
		if a.Timeout != "" {
			d, err := time.ParseDuration(a.Timeout)
			if err != nil || d <= 0 {
				return ca, fmt.Errorf("pause: want a positive timeout, got %q", a.Timeout)
			}
			ca.delay = d
		}
		switch a.Then {
		case "", ThenBlock:
			ca.then = ThenBlock
		case ThenContinue:
			ca.then = ThenContinue
		default:
			return ca, fmt.Errorf("pause: then %q: want block or continue", a.Then)
		}
	default:
		return ca, fmt.Errorf("unknown action %q (want block, mock, set, remove, delay, log or pause)", a.Action)
	}
	return ca, nil
}

func orNothing(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	return string(b)
}

// Interface guard.
var _ pipeline.Stage = (*Engine)(nil)
