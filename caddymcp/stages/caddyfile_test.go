package stages

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-mcp/caddy-mcp/caddymcp"
)

// TestPipelineCaddyfile: every subdirective lands in the pipeline JSON, the
// filter stage first, the rules in order.
func TestPipelineCaddyfile(t *testing.T) {
	input := "mcp_proxy {\n" +
		"stdio cmd\n" +
		"intercept no-etc {\n" +
		"  direction both\n" +
		"  method tools/call resources/*\n" +
		"  tool read_* write_*\n" +
		"  prompt p*\n" +
		"  resource file:///secret/*\n" +
		"  field /params/arguments/path ^/etc/\n" +
		"  user alice bob\n" +
		"  expression `method == \"tools/call\"`\n" +
		"  log warn\n" +
		"  set /params/arguments/limit `10`\n" +
		"  remove /params/arguments/debug\n" +
		"  delay 1.5s\n" +
		"  block \"no reading of /etc\"\n" +
		"}\n" +
		"intercept approve {\n  tool deploy\n  pause 2m then continue\n}\n" +
		"intercept wait {\n  tool deploy2\n  pause\n}\n" +
		"max_held 7\n" +
		"max_decode 256KiB\n" +
		"intercept {\n" +
		"  tool echo\n" +
		"  mock `{\"content\": [{\"type\": \"text\", \"text\": \"{placeholder}\"}]}`\n" +
		"}\n" +
		"tools {\n  allow git_* echo\n  deny git_push\n}\n" +
		"prompts {\n  deny secret*\n}\n" +
		"resources {\n  deny file:///secret/*\n}\n" +
		"}"
	var h caddymcp.Handler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(h.Pipeline)
	want := `[{"tools":{"allow":["git_*","echo"],"deny":["git_push"]},"prompts":{"deny":["secret*"]},"resources":{"deny":["file:///secret/*"]},"stage":"filter"},` +
		`{"rules":[{"name":"no-etc","direction":"both","methods":["tools/call","resources/*"],"tools":["read_*","write_*"],"prompts":["p*"],` +
		`"resources":["file:///secret/*"],"fields":[{"pointer":"/params/arguments/path","regexp":"^/etc/"}],"users":["alice","bob"],` +
		`"expression":"method == \"tools/call\"","actions":[{"action":"log","level":"warn"},{"action":"set","pointer":"/params/arguments/limit","value":10},` +
		`{"action":"remove","pointer":"/params/arguments/debug"},{"action":"delay","duration":"1.5s"},{"action":"block","message":"no reading of /etc"}]},` +
		`{"name":"approve","tools":["deploy"],"actions":[{"action":"pause","timeout":"2m0s","then":"continue"}]},` +
		`{"name":"wait","tools":["deploy2"],"actions":[{"action":"pause"}]},` +
		`{"tools":["echo"],"actions":[{"action":"mock","result":{"content":[{"type":"text","text":"{placeholder}"}]}}]}],"max_held":7,"max_decode":262144,"stage":"intercept"}]`
	var gotV, wantV any
	if json.Unmarshal(got, &gotV) != nil || json.Unmarshal([]byte(want), &wantV) != nil {
		t.Fatalf("not JSON: %s", got)
	}
	if !reflect.DeepEqual(gotV, wantV) {
		t.Errorf("pipeline\n got %s\nwant %s", got, want)
	}
}

// TestPipelineCaddyfileErrors: what the operator reads for each bad line,
// with its line number.
func TestPipelineCaddyfileErrors(t *testing.T) {
	tests := []struct {
		name, block, want string
	}{
		{"two names", "intercept a b {\nblock\n}", "intercept takes at most one argument"},
		{"no action", "intercept a {\ntool x\n}", "intercept a: the rule has no action"},
		{"unknown line", "intercept {\nfrobnicate\n}", `unrecognized intercept subdirective "frobnicate"`},
		{"bad direction", "intercept {\ndirection up\nblock\n}", `direction "up": want to_server, to_client or both`},
		{"direction twice", "intercept {\ndirection both\ndirection both\nblock\n}", "direction is given twice"},
		{"direction args", "intercept {\ndirection\nblock\n}", "direction takes one argument"},
		{"method without glob", "intercept {\nmethod\nblock\n}", "method needs at least one glob"},
		{"tool without glob", "intercept {\ntool\nblock\n}", "tool needs at least one glob"},
		{"field one arg", "intercept {\nfield /a\nblock\n}", "field takes two arguments"},
		{"field bad pointer", "intercept {\nfield a x\nblock\n}", `JSON pointer "a" must start with /`},
		{"field bad regexp", "intercept {\nfield /a (\nblock\n}", "error parsing regexp"},
		{"user without id", "intercept {\nuser\nblock\n}", "user needs at least one user id"},
		{"expression missing", "intercept {\nexpression\nblock\n}", "expression needs a CEL expression"},
		{"expression bad", "intercept {\nexpression `method ==`\nblock\n}", "expression:"},
		{"expression not bool", "intercept {\nexpression `method`\nblock\n}", "must be a bool"},
		{"expression twice", "intercept {\nexpression `true`\nexpression `true`\nblock\n}", "expression is given twice"},
		{"block two args", "intercept {\nblock no way\n}", "block takes at most one argument"},
		{"block not last", "intercept {\nblock\nlog\n}", "block ends the rule's evaluation"},
		{"mock not json", "intercept {\nmock {oops\n}", "is not JSON"},
		{"mock not object", "intercept {\nmock `[1]`\n}", "mock: the result must be a JSON object"},
		{"mock missing", "intercept {\nmock\n}", "mock takes one argument"},
		{"set one arg", "intercept {\nset /a\n}", "set takes two arguments"},
		{"set bare string", "intercept {\nset /params/x hello\n}", `"hello" is not JSON`},
		{"set id", "intercept {\nset /id `1`\n}", "/id cannot be changed"},
		{"remove jsonrpc", "intercept {\nremove /jsonrpc\n}", "/jsonrpc cannot be removed"},
		{"remove two", "intercept {\nremove /a /b\n}", "remove takes one argument"},
		{"delay bad", "intercept {\ndelay soon\n}", `delay: invalid duration "soon": a duration is a number with a unit`},
		{"delay zero", "intercept {\ndelay 0s\n}", "want a positive duration"},
		{"log bad level", "intercept {\nlog loud\n}", `level "loud"`},
		{"pause bad timeout", "intercept {\npause soon\n}", `pause: timeout: invalid duration "soon": a duration is a number with a unit`},
		{"pause bad then", "intercept {\npause 1m then maybe\n}", `then "maybe": want block or continue`},
		{"pause extra", "intercept {\npause 1m then\n}", "pause takes [<timeout>] [then continue|block]"},
		{"pause not last", "intercept {\npause\nlog\n}", "pause ends the rule's evaluation"},
		{"max_held zero", "max_held 0", "max_held must be a positive integer"},
		{"max_held twice", "max_held 2\nmax_held 3", "max_held is given twice"},
		{"max_decode zero", "max_decode 0", `max_decode: invalid size "0"`},
		{"max_decode not a size", "max_decode lots", `max_decode: invalid size "lots"`},
		{"max_decode twice", "max_decode 1MiB\nmax_decode 2MiB", "max_decode is given twice"},
		{"duplicate names", "intercept a {\nblock\n}\nintercept a {\nblock\n}", `intercept "a": another rule has this name`},
		{"tools argument", "tools x", "tools takes a block"},
		{"tools empty", "tools {\n}", "tools: the block is empty"},
		{"tools bad line", "tools {\nhide x\n}", `unrecognized tools subdirective "hide"`},
		{"tools allow nothing", "tools {\nallow\n}", "allow needs at least one glob"},
		{"tools twice", "tools {\ndeny a\n}\ntools {\ndeny b\n}", "tools is given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := "mcp_proxy {\nstdio cmd\n" + tt.block + "\n}"
			err := new(caddymcp.Handler).UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
			if err == nil {
				t.Fatalf("no error for %q", tt.block)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), "Testfile:") {
				t.Errorf("error %q names no file and line", err)
			}
		})
	}
}
