package stages

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-mcp/caddy-mcp/pipeline/intercept"
)

// TestRuleLines pins each intercept line's parse, keyword by keyword (the
// table in rulelines.go): the rule it builds, and the error it gives.
func TestRuleLines(t *testing.T) {
	for _, tc := range []struct {
		lines, err, rule string
	}{
		{"direction", "intercept: direction takes one argument: to_server, to_client or both", `{"name":"n","actions":null}`},
		{"direction to_server", "", `{"name":"n","direction":"to_server","actions":null}`},
		{"direction a b", "intercept: direction takes one argument: to_server, to_client or both", `{"name":"n","actions":null}`},
		{"direction sideways", "intercept rule \"n\": direction \"sideways\": want to_server, to_client or both", `{"name":"n","direction":"sideways","actions":null}`},
		{"direction both\ndirection both", "intercept: direction is given twice", `{"name":"n","direction":"both","actions":null}`},
		{"method", "intercept: method needs at least one glob", `{"name":"n","actions":null}`},
		{"method a b", "", `{"name":"n","methods":["a","b"],"actions":null}`},
		{"server", "intercept: server needs at least one glob", `{"name":"n","actions":null}`},
		{"server github docs-*", "", `{"name":"n","servers":["github","docs-*"],"actions":null}`},
		{"tool", "intercept: tool needs at least one glob", `{"name":"n","actions":null}`},
		{"tool x*", "", `{"name":"n","tools":["x*"],"actions":null}`},
		{"prompt", "intercept: prompt needs at least one glob", `{"name":"n","actions":null}`},
		{"prompt p", "", `{"name":"n","prompts":["p"],"actions":null}`},
		{"resource", "intercept: resource needs at least one glob", `{"name":"n","actions":null}`},
		{"resource r", "", `{"name":"n","resources":["r"],"actions":null}`},
		{"field", "intercept: field takes two arguments: field <json-pointer> <regexp>, e.g. field /params/arguments/path ^/etc/", `{"name":"n","actions":null}`},
		{"field /a", "intercept: field takes two arguments: field <json-pointer> <regexp>, e.g. field /params/arguments/path ^/etc/", `{"name":"n","actions":null}`},
		{"field /a ^x", "", `{"name":"n","fields":[{"pointer":"/a","regexp":"^x"}],"actions":null}`},
		{"field a ^x", "intercept rule \"n\": field: JSON pointer \"a\" must start with /", `{"name":"n","actions":null}`},
		{"field /a (", "intercept rule \"n\": field /a: error parsing regexp: missing closing ): `(`", `{"name":"n","actions":null}`},
		{"field /a b c", "intercept: field takes two arguments: field <json-pointer> <regexp>, e.g. field /params/arguments/path ^/etc/", `{"name":"n","actions":null}`},
		{"user", "intercept: user needs at least one user id", `{"name":"n","actions":null}`},
		{"user u v", "", `{"name":"n","users":["u","v"],"actions":null}`},
		{"expression", "intercept: expression needs a CEL expression, best in backticks", `{"name":"n","actions":null}`},
		{"expression `a == 1`", "intercept rule \"n\": expression: ERROR: <input>:1:1: undeclared reference to 'a' (in container '')\n | a == 1\n | ^", `{"name":"n","actions":null}`},
		{"expression a ==", "intercept rule \"n\": expression: ERROR: <input>:1:5: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}\n | a ==\n | ....^", `{"name":"n","actions":null}`},
		{"expression `true`\nexpression `false`", "intercept: expression is given twice (combine them with &&)", `{"name":"n","expression":"true","actions":null}`},
		{"expression `1 +`", "intercept rule \"n\": expression: ERROR: <input>:1:4: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}\n | 1 +\n | ...^", `{"name":"n","actions":null}`},
		{"block", "", `{"name":"n","actions":[{"action":"block"}]}`},
		{"block msg", "", `{"name":"n","actions":[{"action":"block","message":"msg"}]}`},
		{"block a b", "intercept: block takes at most one argument, its message (quote it), got 2", `{"name":"n","actions":null}`},
		{"mock", "intercept: mock takes one argument, the result as a JSON object in backticks, e.g. mock `{\"content\":[]}`", `{"name":"n","actions":null}`},
		{"mock `{}`", "", `{"name":"n","actions":[{"action":"mock","result":{}}]}`},
		{"mock nope", "intercept: mock: \"nope\" is not JSON (write the result as one token in backticks)", `{"name":"n","actions":null}`},
		{"mock `[]`", "intercept rule \"n\": mock: the result must be a JSON object, got []", `{"name":"n","actions":null}`},
		{"mock a b", "intercept: mock takes one argument, the result as a JSON object in backticks, e.g. mock `{\"content\":[]}`", `{"name":"n","actions":null}`},
		{"set", "intercept: set takes two arguments: set <json-pointer> <json>, e.g. set /params/arguments/limit `10`", `{"name":"n","actions":null}`},
		{"set /a `1`", "", `{"name":"n","actions":[{"action":"set","pointer":"/a","value":1}]}`},
		{"set /a nope", "intercept: set /a: \"nope\" is not JSON (a string needs its quotes: `\"text\"`)", `{"name":"n","actions":null}`},
		{"set a `1`", "intercept rule \"n\": set: JSON pointer \"a\" must start with /", `{"name":"n","actions":null}`},
		{"set /a", "intercept: set takes two arguments: set <json-pointer> <json>, e.g. set /params/arguments/limit `10`", `{"name":"n","actions":null}`},
		{"remove", "intercept: remove takes one argument, a JSON pointer", `{"name":"n","actions":null}`},
		{"remove /a", "", `{"name":"n","actions":[{"action":"remove","pointer":"/a"}]}`},
		{"remove a", "intercept rule \"n\": remove: JSON pointer \"a\" must start with /", `{"name":"n","actions":null}`},
		{"remove /a /b", "intercept: remove takes one argument, a JSON pointer", `{"name":"n","actions":null}`},
		{"delay", "intercept: delay takes one duration: a duration is a number with a unit, like 10m, 90s, 1h30m or 2d", `{"name":"n","actions":null}`},
		{"delay 1s", "", `{"name":"n","actions":[{"action":"delay","duration":"1s"}]}`},
		{"delay -1s", "intercept: delay: want a positive duration, got \"-1s\"", `{"name":"n","actions":null}`},
		{"delay x", "intercept: delay: invalid duration \"x\": a duration is a number with a unit, like 10m, 90s, 1h30m or 2d", `{"name":"n","actions":null}`},
		{"delay 0", "intercept: delay: want a positive duration, got \"0\"", `{"name":"n","actions":null}`},
		{"delay 1s 2s", "intercept: delay takes one duration: a duration is a number with a unit, like 10m, 90s, 1h30m or 2d", `{"name":"n","actions":null}`},
		{"log", "", `{"name":"n","actions":[{"action":"log"}]}`},
		{"log warn", "", `{"name":"n","actions":[{"action":"log","level":"warn"}]}`},
		{"log loud", "intercept rule \"n\": log: level \"loud\": want debug, info, warn or error", `{"name":"n","actions":null}`},
		{"log a b", "intercept: log takes at most one argument: debug, info, warn or error", `{"name":"n","actions":null}`},
		{"pause", "", `{"name":"n","actions":[{"action":"pause"}]}`},
		{"pause 2m", "", `{"name":"n","actions":[{"action":"pause","timeout":"2m0s"}]}`},
		{"pause then continue", "", `{"name":"n","actions":[{"action":"pause","then":"continue"}]}`},
		{"pause 2m then block", "", `{"name":"n","actions":[{"action":"pause","timeout":"2m0s","then":"block"}]}`},
		{"pause then", "intercept: pause takes [<timeout>] [then continue|block], got \"then\"", `{"name":"n","actions":null}`},
		{"pause x", "intercept: pause: timeout: invalid duration \"x\": a duration is a number with a unit, like 10m, 90s, 1h30m or 2d", `{"name":"n","actions":null}`},
		{"pause 0s", "intercept: pause: want a positive timeout, got \"0s\"", `{"name":"n","actions":null}`},
		{"pause 2m then maybe", "intercept rule \"n\": pause: then \"maybe\": want block or continue", `{"name":"n","actions":null}`},
		{"pause 2m 3m", "intercept: pause takes [<timeout>] [then continue|block], got \"2m 3m\"", `{"name":"n","actions":null}`},
		{"pause then continue extra", "intercept: pause takes [<timeout>] [then continue|block], got \"then continue extra\"", `{"name":"n","actions":null}`},
		{"frobnicate", "unrecognized intercept subdirective \"frobnicate\" (intercept takes: block, delay, direction, expression, field, log, method, mock, pause, prompt, remove, resource, server, set, tool, user)", `{"name":"n","actions":null}`},
		{"frobnicate x", "unrecognized intercept subdirective \"frobnicate\" (intercept takes: block, delay, direction, expression, field, log, method, mock, pause, prompt, remove, resource, server, set, tool, user)", `{"name":"n","actions":null}`},
	} {
		t.Run(tc.lines, func(t *testing.T) {
			d := caddyfile.NewTestDispenser("intercept n {\n" + tc.lines + "\n}")
			d.Next()
			d.NextArg()
			r := intercept.Rule{Name: "n"}
			var errs []string
			for nesting := d.Nesting(); d.NextBlock(nesting); {
				if err := parseRuleLine(d, &r); err != nil {
					errs = append(errs, err.Error())
				}
			}
			switch {
			case tc.err == "" && len(errs) > 0:
				t.Errorf("errors %q, want none", errs)
			case tc.err != "" && (len(errs) != 1 || !strings.HasPrefix(errs[0], tc.err+", at Testfile:")):
				t.Errorf("errors %q, want %q", errs, tc.err)
			}
			if got, _ := json.Marshal(r); string(got) != tc.rule {
				t.Errorf("rule %s, want %s", got, tc.rule)
			}
		})
	}
}
