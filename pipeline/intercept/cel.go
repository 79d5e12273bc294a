package intercept

import (
	"encoding/json"
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/interpreter"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// The variables of a rule's CEL expression:
//
//	direction         "to_server" or "to_client"
//	kind              "request", "notification" or "response"
//	method            the method (for a response: the request's)
//	tool, prompt, resource   what a tools/call, prompts/get or resources/* names (a completion/complete: its ref), else ""
//	server            the federated server the message concerns, "" when none or unknown
//	session           the client-facing session id ("" for 2026-07-28 requests)
//	protocol_version  the client's MCP revision
//	user              {http.auth.user.id}, "" when anonymous
//	scopes            the user's granted scopes ({http.auth.user.scopes}, split)
//	client_ip         the client's address as Caddy determined it
//	message           the message (e.g. message.params.arguments.path), read where
//	                  it is; an object or array used whole is decoded up to MaxDecode
var celEnv = func() *cel.Env {
	env, err := cel.NewEnv(
		cel.Variable("direction", cel.StringType),
		cel.Variable("kind", cel.StringType),
		cel.Variable("method", cel.StringType),
		cel.Variable("tool", cel.StringType),
		cel.Variable("prompt", cel.StringType),
		cel.Variable("resource", cel.StringType),
		cel.Variable("server", cel.StringType),
		cel.Variable("session", cel.StringType),
		cel.Variable("protocol_version", cel.StringType),
		cel.Variable("user", cel.StringType),
		cel.Variable("scopes", cel.ListType(cel.StringType)),
		cel.Variable("client_ip", cel.StringType),
		cel.Variable("message", cel.MapType(cel.StringType, cel.DynType)),
	)
	if err != nil {
		panic(err) // the declarations above are fixed
	}
	return env
}()

// expression is a compiled CEL expression of boolean type.
type expression struct {
	src string
	prg cel.Program
}

func compileExpression(src string) (*expression, error) {
	ast, iss := celEnv.Compile(src)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if ast.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("%q is of type %s; it must be a bool", src, ast.OutputType())
	}
	prg, err := celEnv.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, err
	}
	return &expression{src: src, prg: prg}, nil
}

// eval reports whether the expression is true for the message. An
// evaluation error (a missing member, say) counts as false. An expression
// that needed an object or array of the message as a whole (celraw.go)
// larger than the bound cannot tell (tooLarge), whatever it returned.
func (e *expression) eval(st *evaluation) judgement {
	a := &activation{st: st, bound: celBound{max: st.maxDecode}}
	out, _, err := e.prg.Eval(a)
	switch {
	case a.bound.tooLarge:
		return tooLarge
	case err != nil:
		return noMatch
	}
	b, ok := out.Value().(bool)
	return judge(ok && b)
}

// activation resolves the variables when the expression reads them, so
// that one that never reads message costs no decoding.
type activation struct {
	st      *evaluation
	bound   celBound   // of message's lazy values
	message *celObject // the root of them, nil until read
}

func (a *activation) ResolveName(name string) (any, bool) {
	st := a.st
	switch name {
	case "direction":
		return st.ex.Direction.String(), true
	case "kind":
		return st.m.Kind.String(), true
	case "method":
		m, _ := st.what()
		return m, true
	case "tool", "prompt", "resource":
		if _, t := st.what(); st.names(name) {
			return t, true
		}
		return "", true
	case "server":
		server, _ := st.server()
		return server, true
	case "session":
		return st.ex.SessionID, true
	case "protocol_version":
		return st.ex.ProtocolVersion, true
	case "user":
		return st.ex.User, true
	case "scopes":
		return scopes(st.ex), true
	case "client_ip":
		return st.ex.ClientIP, true
	case "message":
		if a.message == nil { // once: what it reads is kept for the next reference
			a.message = &celObject{raw: st.raw, b: &a.bound}
		}
		return a.message, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

func scopes(ex *pipeline.Exchange) []string {
	if ex.Claim == nil {
		return []string{}
	}
	s, _ := ex.Claim("scopes")
	return strings.Fields(s)
}

// celValue copies a decoded message for CEL, whose numbers are doubles and
// ints, not json.Number.
func celValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = celValue(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = celValue(e)
		}
		return out
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	}
	return v
}
