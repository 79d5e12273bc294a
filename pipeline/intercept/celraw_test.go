package intercept

import (
	"testing"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// TestCELMessageLazy: an expression over message reads as it did when
// message was the decoded map (the oracle here), while reading the bytes
// where it leads; an object or array it needs whole past the bound makes
// it tooLarge.
func TestCELMessageLazy(t *testing.T) {
	const msg = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"read","arguments":{"path":"/etc/passwd","n":3,` +
		`"a/b":1,"\u0071":"escaped name","f":1.5,"big":12345678901234567890,"nil":null,"ok":true},` +
		`"list":["a","b","c"],"objs":[{"k":1},{"k":2}],"nested":{"deep":{"er":[[1,2],[3]]}}}}`
	tests := []struct {
		expr string
		want bool
	}{
		{`message.params.arguments.path == "/etc/passwd"`, true},
		{`message.params.arguments.path.startsWith("/etc/")`, true},
		{`message.params.arguments.n > 2`, true},
		{`message.params.arguments.n == 3`, true},
		{`message.params.arguments.f == 1.5`, true},
		{`message.params.arguments.big > 1.0`, true},
		{`message.params.arguments.nil == null`, true},
		{`message.params.arguments.ok == true`, true},
		{`message.params.arguments["a/b"] == 1`, true},
		{`message.params.arguments.q == "escaped name"`, true},
		{`message.id == 7`, true},
		{`has(message.params.arguments.path)`, true},
		{`has(message.params.nope)`, false},
		{`"path" in message.params.arguments`, true},
		{`"Path" in message.params.arguments`, false},
		{`message.params.arguments.size() == 8`, true},
		{`message.params.arguments.exists(k, k == "path")`, true},
		{`message.params.arguments.all(k, k != "x")`, true},
		{`message.params.list[1] == "b"`, true},
		{`message.params.list.size() == 3`, true},
		{`size(message.params.list) == 3`, true},
		{`message.params.list.exists(x, x == "c")`, true},
		{`"a" in message.params.list`, true},
		{`message.params.list + ["d"] == ["a", "b", "c", "d"]`, true},
		{`message.params.list == ["a", "b", "c"]`, true},
		{`message.params.objs[1].k == 2`, true},
		{`message.params.objs.exists(o, o.k == 2)`, true},
		{`message.params.list.exists(x, x == message.params.list[2])`, true},
		{`message.params.nested.deep.er[0][1] == 2`, true},
		{`message.params.nested == {"deep": {"er": [[1, 2], [3]]}}`, true},
		{`type(message.params) == map`, true},
		{`type(message.params.list) == list`, true},
		{`message.params.list[5] == "x"`, false},
		{`message.params.list[-1] == "x"`, false},
		{`message.params.nope == 1`, false},
		{`message.params.name.x == 1`, false},
		{`message.params.arguments[1] == 1`, false},
	}
	m, err := pipeline.Parse([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	decoded := celValue(decode(m.Raw))
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			e, err := compileExpression(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			st := newEvaluation(&pipeline.Exchange{}, m, DefaultMaxDecode)
			if got := e.eval(st); got != judge(tt.want) {
				t.Errorf("lazy: %v, want %v", got, judge(tt.want))
			}
			out, _, err := e.prg.Eval(mapActivation{"message": decoded})
			oracle := err == nil && out.Value() == true
			if oracle != tt.want {
				t.Errorf("the decoded map says %v (%v), want %v", oracle, err, tt.want)
			}
			// Under a bound smaller than any object: whatever needs one
			// whole cannot tell; the rest reads as before.
			small := newEvaluation(&pipeline.Exchange{}, m, 8)
			if got := e.eval(small); got != judge(tt.want) && got != tooLarge {
				t.Errorf("bounded: %v, want %v or tooLarge", got, judge(tt.want))
			}
		})
	}
	// What is read where it is never hits the bound.
	for _, expr := range []string{`message.params.arguments.path == "/etc/passwd"`, `message.params.objs[1].k == 2`, `has(message.params.nope)`,
		`"path" in message.params.arguments`, `size(message.params.list) == 3`} {
		e, _ := compileExpression(expr)
		if got := e.eval(newEvaluation(&pipeline.Exchange{}, m, 8)); got == tooLarge {
			t.Errorf("%s: tooLarge, but it needs nothing whole", expr)
		}
	}
	for _, expr := range []string{`message.params.arguments.size() == 8`, `message.params.list == ["a", "b", "c"]`, `message.params.objs.exists(o, o.k == 2)`} {
		e, _ := compileExpression(expr)
		if got := e.eval(newEvaluation(&pipeline.Exchange{}, m, 8)); got != tooLarge {
			t.Errorf("%s: %v, want tooLarge", expr, got)
		}
	}
}

// mapActivation is a plain activation: the variables as given.
type mapActivation map[string]any

func (a mapActivation) ResolveName(name string) (any, bool) { v, ok := a[name]; return v, ok }
func (a mapActivation) Parent() interpreter.Activation      { return nil }

// TestCELMessageKept: a member read once is not looked for again: an
// expression that reads it in each turn of a comprehension over a large
// message walks the message once.
func TestCELMessageKept(t *testing.T) {
	b := &celBound{max: DefaultMaxDecode}
	root := &celObject{raw: []byte(`{"params":{"list":[1,2,3],"a":{"b":"c"}},"x":null}`), b: b}
	params, ok := root.Find(types.String("params"))
	again, _ := root.Find(types.String("params"))
	if !ok || params != again {
		t.Fatalf("params read twice: %p, %p", params, again)
	}
	list := params.(*celObject).Get(types.String("list")).(*celArray)
	if e0, e1 := list.Get(types.Int(0)), list.Get(types.Int(0)); e0 != e1 || list.Size() != types.Int(3) || list.size != 3 {
		t.Errorf("list[0] read twice: %v, %v; size %v", e0, e1, list.Size())
	}
	if _, ok := root.Find(types.String("nope")); ok {
		t.Error("a missing member was found")
	}
	if v, seen := root.members["nope"]; !seen || v != nil {
		t.Error("a missing member is looked for again")
	}
}
