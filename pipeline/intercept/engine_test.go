package intercept_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/hold"
	"github.com/caddy-mcp/caddy-mcp/pipeline/intercept"
)

const (
	callRead  = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"read_file","arguments":{"path":"/etc/passwd","n":3}}}`
	callEcho  = `{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}`
	listTools = `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	getPrompt = `{"jsonrpc":"2.0","id":2,"method":"prompts/get","params":{"name":"greet"}}`
	readRes   = `{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"file:///secret/a/b.txt"}}`
	noteList  = `{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`
	result7   = `{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"root:x:0:0"}]}}`
)

func parse(t testing.TB, s string) *pipeline.Message {
	t.Helper()
	m, err := pipeline.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func act(kind string, f func(*intercept.Action)) intercept.Action {
	a := intercept.Action{Action: kind}
	if f != nil {
		f(&a)
	}
	return a
}

var blockIt = act(intercept.ActionBlock, nil)

// TestMatchers: which messages each matcher lets a block rule see.
func TestMatchers(t *testing.T) {
	toServer := &pipeline.Exchange{Direction: pipeline.ToServer, User: "alice"}
	toClient := &pipeline.Exchange{Direction: pipeline.ToClient, RequestMethod: "tools/call", RequestTarget: "read_file"}
	tests := []struct {
		name string
		rule intercept.Rule
		ex   *pipeline.Exchange
		msg  string
		want bool
	}{
		{"no matcher matches all to_server", intercept.Rule{}, toServer, listTools, true},
		{"default direction is to_server", intercept.Rule{}, toClient, result7, false},
		{"to_client", intercept.Rule{Direction: "to_client"}, toClient, result7, true},
		{"to_client skips to_server", intercept.Rule{Direction: "to_client"}, toServer, listTools, false},
		{"both", intercept.Rule{Direction: "both"}, toClient, result7, true},
		{"method exact", intercept.Rule{Methods: []string{"tools/list"}}, toServer, listTools, true},
		{"method miss", intercept.Rule{Methods: []string{"tools/list"}}, toServer, callRead, false},
		{"method glob over slashes", intercept.Rule{Methods: []string{"notifications/*"}}, toServer, noteList, true},
		{"methods OR", intercept.Rule{Methods: []string{"ping", "tools/*"}}, toServer, callEcho, true},
		{"method of a response is the request's", intercept.Rule{Direction: "to_client", Methods: []string{"tools/call"}}, toClient, result7, true},
		{"tool", intercept.Rule{Tools: []string{"read_*"}}, toServer, callRead, true},
		{"tool miss", intercept.Rule{Tools: []string{"read_*"}}, toServer, callEcho, false},
		{"tool needs tools/call", intercept.Rule{Tools: []string{"*"}}, toServer, listTools, false},
		{"tool of a response", intercept.Rule{Direction: "to_client", Tools: []string{"read_file"}}, toClient, result7, true},
		{"prompt", intercept.Rule{Prompts: []string{"gr*"}}, toServer, getPrompt, true},
		{"prompt is not a tool", intercept.Rule{Tools: []string{"greet"}}, toServer, getPrompt, false},
		{"resource subfolder", intercept.Rule{Resources: []string{"file:///secret/*"}}, toServer, readRes, true},
		{"resource miss", intercept.Rule{Resources: []string{"file:///public/*"}}, toServer, readRes, false},
		{"field string", intercept.Rule{Fields: []intercept.Field{{Pointer: "/params/arguments/path", Regexp: "^/etc/"}}}, toServer, callRead, true},
		{"field miss", intercept.Rule{Fields: []intercept.Field{{Pointer: "/params/arguments/path", Regexp: "^/home/"}}}, toServer, callRead, false},
		{"field absent", intercept.Rule{Fields: []intercept.Field{{Pointer: "/params/arguments/nope", Regexp: ""}}}, toServer, callRead, false},
		{"field number as text", intercept.Rule{Fields: []intercept.Field{{Pointer: "/params/arguments/n", Regexp: "^3$"}}}, toServer, callRead, true},
		{"field array index", intercept.Rule{Direction: "to_client", Fields: []intercept.Field{{Pointer: "/result/content/0/text", Regexp: "root"}}}, toClient, result7, true},
		{"field through escapes", intercept.Rule{Fields: []intercept.Field{{Pointer: "/params/arguments/a~1b/~0c", Regexp: "^x$"}}}, toServer,
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a/b":{"~c":"x"}}}}`, true},
		{"field member name \\u-escaped", intercept.Rule{Fields: []intercept.Field{{Pointer: "/params/arguments/path", Regexp: "^/etc/"}}}, toServer,
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"\u0070ath":"/etc/passwd"}}}`, true},
		{"field string value escaped", intercept.Rule{Fields: []intercept.Field{{Pointer: "/params/arguments/path", Regexp: "^/etc/"}}}, toServer,
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"path":"\/\u0065tc\/passwd"}}}`, true},
		{"field name case-sensitive", intercept.Rule{Fields: []intercept.Field{{Pointer: "/params/arguments/path", Regexp: ""}}}, toServer,
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"Path":"/etc/passwd"}}}`, false},
		{"field object as sorted JSON", intercept.Rule{Fields: []intercept.Field{{Pointer: "/params/arguments", Regexp: `^\{"n":3,"path":"/etc/passwd"\}$`}}}, toServer, callRead, true},
		{"field null", intercept.Rule{Fields: []intercept.Field{{Pointer: "/params/arguments/x", Regexp: `^null$`}}}, toServer,
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"x":null}}}`, true},
		{"field through a string", intercept.Rule{Fields: []intercept.Field{{Pointer: "/params/name/x", Regexp: ""}}}, toServer, callRead, false},
		{"fields AND", intercept.Rule{Fields: []intercept.Field{{Pointer: "/params/name", Regexp: "read"}, {Pointer: "/params/arguments/path", Regexp: "^/home"}}}, toServer, callRead, false},
		{"user", intercept.Rule{Users: []string{"bob", "alice"}}, toServer, listTools, true},
		{"user miss", intercept.Rule{Users: []string{"bob"}}, toServer, listTools, false},
		{"matchers AND", intercept.Rule{Methods: []string{"tools/call"}, Tools: []string{"echo"}}, toServer, callRead, false},
		{"expression", intercept.Rule{Expression: `tool == "read_file" && message.params.arguments.n > 2`}, toServer, callRead, true},
		{"expression false", intercept.Rule{Expression: `user == "bob"`}, toServer, callRead, false},
		{"expression error is false", intercept.Rule{Expression: `message.params.nothing.deeper == 1`}, toServer, callRead, false},
		{"expression direction", intercept.Rule{Direction: "both", Expression: `direction == "to_client" && kind == "response"`}, toClient, result7, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.rule.Actions = []intercept.Action{blockIt}
			e, err := intercept.New([]intercept.Rule{tt.rule}, nil)
			if err != nil {
				t.Fatal(err)
			}
			v := e.Handle(context.Background(), tt.ex, parse(t, tt.msg))
			blocked := v.Action != pipeline.Continue || v.Message != nil
			if blocked != tt.want {
				t.Errorf("matched = %v, want %v (verdict %+v)", blocked, tt.want, v)
			}
		})
	}
}

// errorOf decodes the error of a response.
func errorOf(t *testing.T, m *pipeline.Message) (code int, msg string, data map[string]string) {
	t.Helper()
	var e struct {
		Code    int               `json:"code"`
		Message string            `json:"message"`
		Data    map[string]string `json:"data"`
	}
	if err := json.Unmarshal(m.Error, &e); err != nil {
		t.Fatalf("not an error response: %s", m.Raw)
	}
	return e.Code, e.Message, e.Data
}

func TestBlock(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	e, err := intercept.New([]intercept.Rule{
		{Name: "no-etc", Direction: "both", Fields: []intercept.Field{{Pointer: "/params/arguments/path", Regexp: "^/etc/"}},
			Actions: []intercept.Action{act("block", func(a *intercept.Action) { a.Message = "no /etc" })}},
		{Direction: "both", Methods: []string{"notifications/*", "sampling/*"}, Actions: []intercept.Action{blockIt}},
		{Name: "hide-result", Direction: "to_client", Tools: []string{"read_file"}, Actions: []intercept.Action{blockIt}},
	}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	toServer := &pipeline.Exchange{Direction: pipeline.ToServer, SessionID: "s1"}

	// A request: answered with the fixed code, its id, the rule and a
	// correlation id that the log line carries.
	v := e.Handle(ctx, toServer, parse(t, callRead))
	if v.Action != pipeline.Respond {
		t.Fatalf("request: action %v, want Respond", v.Action)
	}
	if string(v.Message.ID) != "7" {
		t.Errorf("id = %s, want 7", v.Message.ID)
	}
	code, msg, data := errorOf(t, v.Message)
	if code != intercept.CodeBlocked || msg != "no /etc" || data["rule"] != "no-etc" || len(data["correlation_id"]) != 24 {
		t.Errorf("error = %d %q %v", code, msg, data)
	}
	found := logs.FilterField(zap.String("correlation_id", data["correlation_id"])).All()
	if len(found) != 1 || found[0].ContextMap()["rule"] != "no-etc" || found[0].ContextMap()["session"] != "s1" {
		t.Errorf("log lines with the correlation id: %+v", found)
	}

	// A notification is dropped; the default name is the rule's number.
	if v := e.Handle(ctx, toServer, parse(t, noteList)); v.Action != pipeline.Drop {
		t.Errorf("notification: %+v, want Drop", v)
	}
	// A server request (to_client) is answered back with the error.
	sampling := parse(t, `{"jsonrpc":"2.0","id":9,"method":"sampling/createMessage","params":{}}`)
	v = e.Handle(ctx, &pipeline.Exchange{Direction: pipeline.ToClient}, sampling)
	if v.Action != pipeline.Respond {
		t.Fatalf("server request: %+v", v)
	}
	if _, _, data := errorOf(t, v.Message); data["rule"] != "rule-2" {
		t.Errorf("rule = %q, want rule-2", data["rule"])
	}
	// A response is replaced by the error, with the same id.
	v = e.Handle(ctx, &pipeline.Exchange{Direction: pipeline.ToClient, RequestMethod: "tools/call", RequestTarget: "read_file"}, parse(t, result7))
	if v.Action != pipeline.Continue || v.Message == nil || string(v.Message.ID) != "7" {
		t.Fatalf("response: %+v", v)
	}
	if code, _, data := errorOf(t, v.Message); code != intercept.CodeBlocked || data["rule"] != "hide-result" {
		t.Errorf("response error %d %v", code, data)
	}
	// Something no rule matches passes unchanged.
	if v := e.Handle(ctx, toServer, parse(t, callEcho)); v.Action != pipeline.Continue || v.Message != nil {
		t.Errorf("echo: %+v", v)
	}
}

func TestMock(t *testing.T) {
	e, err := intercept.New([]intercept.Rule{
		{Direction: "both", Tools: []string{"echo", "read_file"}, Actions: []intercept.Action{
			act("mock", func(a *intercept.Action) {
				a.Result = json.RawMessage(`{ "content": [ {"type":"text","text":"mocked"} ] }`)
			}),
		}},
		{Methods: []string{"notifications/*"}, Actions: []intercept.Action{act("mock", func(a *intercept.Action) { a.Result = json.RawMessage(`{}`) })}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const want = `{"content":[{"type":"text","text":"mocked"}]}`
	v := e.Handle(ctx, &pipeline.Exchange{}, parse(t, callEcho))
	if v.Action != pipeline.Respond || string(v.Message.Raw) != `{"jsonrpc":"2.0","id":"a","result":`+want+`}` {
		t.Errorf("request: %v %s", v.Action, v.Message.Raw)
	}
	v = e.Handle(ctx, &pipeline.Exchange{Direction: pipeline.ToClient, RequestMethod: "tools/call", RequestTarget: "read_file"}, parse(t, result7))
	if v.Action != pipeline.Continue || string(v.Message.Result) != want {
		t.Errorf("response: %v %+v", v.Action, v.Message)
	}
	if v := e.Handle(ctx, &pipeline.Exchange{}, parse(t, noteList)); v.Action != pipeline.Drop {
		t.Errorf("notification: %+v", v)
	}
}

func TestEdits(t *testing.T) {
	set := func(ptr, value string) intercept.Action {
		return act("set", func(a *intercept.Action) { a.Pointer, a.Value = ptr, json.RawMessage(value) })
	}
	remove := func(ptr string) intercept.Action {
		return act("remove", func(a *intercept.Action) { a.Pointer = ptr })
	}
	tests := []struct {
		name    string
		actions []intercept.Action
		msg     string
		want    string // the params (or result) after the edits, the rest as written; "" = unchanged
	}{
		{"set a string", []intercept.Action{set("/params/arguments/path", `"/tmp/x"`)}, callRead,
			`{"name":"read_file","arguments":{"path":"/tmp/x","n":3}}`},
		{"set creates objects", []intercept.Action{set("/params/_meta/tag/a", `1`)}, callEcho,
			`{"name":"echo","arguments":{"message":"hi"},"_meta":{"tag":{"a":1}}}`},
		{"remove", []intercept.Action{remove("/params/arguments/n")}, callRead,
			`{"name":"read_file","arguments":{"path":"/etc/passwd"}}`},
		{"remove absent is no change", []intercept.Action{remove("/params/nothing/here")}, callRead, ""},
		{"append to an array", []intercept.Action{set("/params/list", `[1]`), set("/params/list/-", `2`)}, getPrompt,
			`{"name":"greet","list":[1,2]}`},
		{"replace and remove in an array", []intercept.Action{set("/params/list", `[1,2,3]`), set("/params/list/0", `"a"`), remove("/params/list/1")}, getPrompt,
			`{"name":"greet","list":["a",3]}`},
		{"escaped pointer", []intercept.Action{set("/params/a~1b~0c", `true`)}, getPrompt,
			`{"name":"greet","a/b~c":true}`},
		{"big number kept", []intercept.Action{set("/params/big", `12345678901234567890`)}, getPrompt,
			`{"name":"greet","big":12345678901234567890}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := intercept.New([]intercept.Rule{{Actions: tt.actions}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			in := parse(t, tt.msg)
			v := e.Handle(context.Background(), &pipeline.Exchange{}, in)
			if v.Action != pipeline.Continue {
				t.Fatalf("action %v", v.Action)
			}
			if tt.want == "" {
				if v.Message != nil && string(v.Message.Raw) != tt.msg {
					t.Errorf("changed: %s", v.Message.Raw)
				}
				return
			}
			if v.Message == nil {
				t.Fatal("unchanged")
			}
			if string(v.Message.Params) != tt.want || string(v.Message.ID) != string(in.ID) || v.Message.Method != in.Method {
				t.Errorf("got %s", v.Message.Raw)
			}
		})
	}
}

// TestOrder: set, remove, log and delay go on to the next rule, which sees
// the edited message; block ends the evaluation.
func TestOrder(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	e, err := intercept.New([]intercept.Rule{
		{Name: "rename", Tools: []string{"read_file"}, Actions: []intercept.Action{
			act("log", func(a *intercept.Action) { a.Level = "debug" }),
			act("set", func(a *intercept.Action) { a.Pointer, a.Value = "/params/name", json.RawMessage(`"safe_read"`) }),
			act("delay", func(a *intercept.Action) { a.Duration = "1ms" }),
		}},
		{Name: "sees-edit", Tools: []string{"safe_read"}, Actions: []intercept.Action{blockIt}},
		{Name: "never", Actions: []intercept.Action{act("log", nil)}},
	}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	v := e.Handle(context.Background(), &pipeline.Exchange{}, parse(t, callRead))
	if v.Action != pipeline.Wait {
		t.Fatalf("delay: %+v, want Wait", v)
	}
	v = pipeline.NewChain(e).Run(context.Background(), &pipeline.Exchange{}, parse(t, callRead))
	if v.Action != pipeline.Respond {
		t.Fatalf("%+v", v)
	}
	if _, _, data := errorOf(t, v.Message); data["rule"] != "sees-edit" {
		t.Errorf("blocked by %q", data["rule"])
	}
	if n := logs.FilterMessage("intercept: a rule matched").Len(); n != 2 {
		t.Errorf("%d log action lines, want 2, one per Handle (the block ends before rule never)", n)
	}
	if l := logs.FilterMessage("intercept: a rule matched").All(); len(l) > 0 && (l[0].Level != zap.DebugLevel || l[0].ContextMap()["target"] != "read_file") {
		t.Errorf("log line %+v", l[0])
	}
}

// TestDelay: a delay decides later (Wait), on the caller's goroutine of
// choice, and ends with its context.
func TestDelay(t *testing.T) {
	e, err := intercept.New([]intercept.Rule{
		{Actions: []intercept.Action{act("delay", func(a *intercept.Action) { a.Duration = "1h" })}},
		{Name: "after", Actions: []intercept.Action{blockIt}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := e.Handle(context.Background(), &pipeline.Exchange{}, parse(t, callEcho))
	if v.Action != pipeline.Wait {
		t.Fatalf("%+v, want Wait", v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan pipeline.Verdict)
	go func() { done <- v.Pending.Resume(ctx) }()
	cancel()
	select {
	case v := <-done:
		if v.Action != pipeline.Drop {
			t.Errorf("%+v", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("delay did not end with its context")
	}

	short, err := intercept.New([]intercept.Rule{
		{Actions: []intercept.Action{act("delay", func(a *intercept.Action) { a.Duration = "1ms" })}},
		{Name: "after", Actions: []intercept.Action{blockIt}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	v = short.Handle(context.Background(), &pipeline.Exchange{}, parse(t, callEcho)).Pending.Resume(context.Background())
	if v.Action != pipeline.Respond {
		t.Fatalf("after the delay: %+v, want the next rule's block", v)
	}
}

func TestBadRules(t *testing.T) {
	tests := []struct {
		name string
		rule intercept.Rule
		want string
	}{
		{"no action", intercept.Rule{Name: "r"}, `intercept rule "r": no action`},
		{"bad direction", intercept.Rule{Direction: "up", Actions: []intercept.Action{blockIt}}, `direction "up"`},
		{"bad regexp", intercept.Rule{Fields: []intercept.Field{{Pointer: "/a", Regexp: "("}}, Actions: []intercept.Action{blockIt}}, "field /a: error parsing regexp"},
		{"bad pointer", intercept.Rule{Fields: []intercept.Field{{Pointer: "a", Regexp: "x"}}, Actions: []intercept.Action{blockIt}}, "must start with /"},
		{"bad escape", intercept.Rule{Fields: []intercept.Field{{Pointer: "/a~2", Regexp: "x"}}, Actions: []intercept.Action{blockIt}}, "~ must be written ~0"},
		{"bad cel", intercept.Rule{Expression: "method ==", Actions: []intercept.Action{blockIt}}, "expression:"},
		{"cel not bool", intercept.Rule{Expression: "method", Actions: []intercept.Action{blockIt}}, "must be a bool"},
		{"cel unknown variable", intercept.Rule{Expression: "nope == 1", Actions: []intercept.Action{blockIt}}, "undeclared reference"},
		{"block not last", intercept.Rule{Actions: []intercept.Action{blockIt, act("log", nil)}}, "block ends the rule's evaluation"},
		{"mock not object", intercept.Rule{Actions: []intercept.Action{act("mock", func(a *intercept.Action) { a.Result = json.RawMessage(`[1]`) })}}, "mock: the result must be a JSON object"},
		{"mock nothing", intercept.Rule{Actions: []intercept.Action{act("mock", nil)}}, "got nothing"},
		{"set id", intercept.Rule{Actions: []intercept.Action{act("set", func(a *intercept.Action) { a.Pointer, a.Value = "/id", json.RawMessage(`1`) })}}, "/id cannot be changed"},
		{"set bad json", intercept.Rule{Actions: []intercept.Action{act("set", func(a *intercept.Action) { a.Pointer, a.Value = "/params/x", json.RawMessage(`{`) })}}, "the value must be JSON"},
		{"remove method", intercept.Rule{Actions: []intercept.Action{act("remove", func(a *intercept.Action) { a.Pointer = "/method" })}}, "/method cannot be removed"},
		{"bad delay", intercept.Rule{Actions: []intercept.Action{act("delay", func(a *intercept.Action) { a.Duration = "soon" })}}, `want a positive duration, got "soon"`},
		{"bad level", intercept.Rule{Actions: []intercept.Action{act("log", func(a *intercept.Action) { a.Level = "loud" })}}, `level "loud"`},
		{"unknown action", intercept.Rule{Actions: []intercept.Action{act("explode", nil)}}, `unknown action "explode"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := intercept.New([]intercept.Rule{tt.rule}, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
	_, err := intercept.New([]intercept.Rule{{Name: "x", Actions: []intercept.Action{blockIt}}, {Name: "x", Actions: []intercept.Action{blockIt}}}, nil)
	if err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("duplicate names: %v", err)
	}
}

// TestPause: a held request continues with the next rule, is blocked, is
// answered, or times out into its then action.
func TestPause(t *testing.T) {
	pauseRule := func(timeout, then string) []intercept.Rule {
		return []intercept.Rule{
			{Name: "approve", Tools: []string{"echo"}, Actions: []intercept.Action{{Action: "pause", Timeout: timeout, Then: then}}},
			{Name: "after", Tools: []string{"other"}, Actions: []intercept.Action{blockIt}},
		}
	}
	tests := []struct {
		name        string
		timeout     string
		then        string
		decide      func(r *hold.Registry, id string) error
		wantAction  pipeline.Action
		wantMessage string // the block's message or the continued call's tool
		wantBy      string // the rule the verdict names
		wantEnded   pipeline.HoldEnd
	}{
		{"continue unchanged", "", "", func(r *hold.Registry, id string) error {
			return r.Decide(id, hold.Decision{Kind: hold.Continue}, nil)
		}, pipeline.Continue, "", "approve", pipeline.HoldReleased},
		{"continue edited, the next rule sees the edit", "", "", func(r *hold.Registry, id string) error {
			return r.Decide(id, hold.Decision{Kind: hold.Continue}, json.RawMessage(`{"jsonrpc":"2.0","id":0,"method":"tools/call","params":{"name":"other"}}`))
		}, pipeline.Respond, "blocked by the gateway's policy", "after", pipeline.HoldReleased},
		{"block", "", "", func(r *hold.Registry, id string) error {
			return r.Decide(id, hold.Decision{Kind: hold.Block, Reason: "not today"}, nil)
		}, pipeline.Respond, "not today", "approve", pipeline.HoldReleased},
		{"respond", "", "", func(r *hold.Registry, id string) error {
			return r.Decide(id, hold.Decision{Kind: hold.Respond, Result: json.RawMessage(`{"content":[]}`)}, nil)
		}, pipeline.Respond, "", "approve", pipeline.HoldReleased},
		{"timeout then block", "1ms", "", nil, pipeline.Respond, "held for the gateway's operator, who did not decide within 1ms",
			"approve", pipeline.HoldTimedOut},
		{"timeout then continue", "1ms", "continue", nil, pipeline.Continue, "", "approve", pipeline.HoldTimedOut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := hold.NewRegistry()
			e, err := intercept.New(pauseRule(tt.timeout, tt.then), nil)
			if err != nil {
				t.Fatal(err)
			}
			e.HoldIn(reg, "ep", 0)
			events, stop := reg.Listen()
			defer stop()
			done := make(chan pipeline.Verdict, 1)
			go func() {
				done <- pipeline.NewChain(e).Run(context.Background(), &pipeline.Exchange{SessionID: "s"}, parse(t, callEcho))
			}()
			ev := <-events
			if ev.Entry.Rule != "approve" || ev.Entry.Tool != "echo" || ev.Entry.Session != "s" || ev.Entry.Endpoint != "ep" {
				t.Errorf("held entry %+v", ev.Entry)
			}
			if tt.decide != nil {
				if err := tt.decide(reg, ev.Entry.ID); err != nil {
					t.Fatal(err)
				}
			}
			var v pipeline.Verdict
			select {
			case v = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the pause did not end")
			}
			if v.Action != tt.wantAction || v.By != tt.wantBy || v.Ended != tt.wantEnded {
				t.Fatalf("verdict %+v, want %v by %q, hold ended %q", v, tt.wantAction, tt.wantBy, tt.wantEnded)
			}
			if tt.wantMessage != "" {
				if _, msg, _ := errorOf(t, v.Message); msg != tt.wantMessage {
					t.Errorf("message %q, want %q", msg, tt.wantMessage)
				}
			}
			if v.Action == pipeline.Respond && string(v.Message.ID) != `"a"` {
				t.Errorf("answer id %s, want the request's", v.Message.ID)
			}
		})
	}
	// A hold whose context ends says whether the session ended or the
	// request was cancelled.
	for _, sessionEnds := range []bool{false, true} {
		reg := hold.NewRegistry()
		e, _ := intercept.New(pauseRule("1h", ""), nil)
		e.HoldIn(reg, "ep", 0)
		events, stop := reg.Listen()
		session, endSession := context.WithCancelCause(context.Background())
		ctx, cancel := context.WithCancel(session)
		done := make(chan pipeline.Verdict, 1)
		go func() { done <- pipeline.NewChain(e).Run(ctx, &pipeline.Exchange{SessionID: "s"}, parse(t, callEcho)) }()
		<-events
		want := pipeline.HoldCancelled
		if sessionEnds {
			endSession(pipeline.ErrSessionEnded)
			want = pipeline.HoldSessionEnded
		} else {
			cancel()
		}
		if v := <-done; v.Action != pipeline.Drop || v.Ended != want || v.By != "approve" {
			t.Errorf("a hold cut short (session ends: %v): %+v, want a drop by approve ended %q", sessionEnds, v, want)
		}
		stop()
		cancel()
		endSession(nil)
	}
	// No registry: the pause's timeout action applies at once.
	e, _ := intercept.New(pauseRule("1h", ""), nil)
	if v := pipeline.NewChain(e).Run(context.Background(), &pipeline.Exchange{}, parse(t, callEcho)); v.Action != pipeline.Respond {
		t.Errorf("without a registry: %+v", v)
	}
}
