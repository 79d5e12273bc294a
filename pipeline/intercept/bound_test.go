package intercept_test

import (
	"context"
	"encoding/json"
	"runtime"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/intercept"
)

const tooLargeMessage = "the message is too large for the gateway's rule to judge"

// TestTooLarge: a rule that would have to decode an object or array
// larger than MaxDecode cannot judge the message and applies as if it
// matched (logged and counted), unless another of its matchers says no;
// strings, members CEL reaches one by one, and expressions that do not
// read message are judged whatever the size.
func TestTooLarge(t *testing.T) {
	const maxDecode = 512
	small := callRead
	large := bigCall(4096, true) // arguments: an array of objects, larger than maxDecode
	bulk := bigCall(4096, false) // arguments: one long string
	field := func(ptr, re string) []intercept.Field { return []intercept.Field{{Pointer: ptr, Regexp: re}} }
	setPath := act(intercept.ActionSet, func(a *intercept.Action) { a.Pointer, a.Value = "/params/arguments/path", json.RawMessage(`"/tmp/x"`) })
	noMock := act(intercept.ActionMock, func(a *intercept.Action) { a.Result = json.RawMessage(`{"content":[]}`) })
	tests := []struct {
		name    string
		rule    intercept.Rule
		msg     string
		want    string // the error message the client gets, "edited", "mocked", or "" (passes unchanged)
		counted bool   // the engine reported the rule as unable to judge
	}{
		{"object field over the bound blocks", intercept.Rule{Fields: field("/params/arguments", "never")}, large, tooLargeMessage, true},
		{"object field under the bound is judged", intercept.Rule{Fields: field("/params/arguments", "never")}, small, "", false},
		{"another matcher says no", intercept.Rule{Fields: append(field("/params/arguments", "never"), field("/params/name", "^other$")...)}, large, "", false},
		{"a tool matcher says no first", intercept.Rule{Tools: []string{"other"}, Fields: field("/params/arguments", "x")}, large, "", false},
		{"a string is judged", intercept.Rule{Fields: field("/params/arguments/path", "^/etc/")}, large, "stop", false},
		{"a string is judged: no", intercept.Rule{Fields: field("/params/arguments/path", "^/home/")}, large, "", false},
		{"a long string is judged", intercept.Rule{Fields: field("/params/arguments/content", "^lorem ipsum")}, bulk, "stop", false},
		{"CEL needing an object over the bound whole blocks", intercept.Rule{Expression: `message.params.arguments.content.exists(c, c.line == -1)`}, large, tooLargeMessage, true},
		{"CEL reading a member of a large message is judged", intercept.Rule{Expression: `message.params.arguments.path == "/etc/passwd"`}, large, "stop", false},
		{"CEL reading a member of a large message: no", intercept.Rule{Expression: `message.params.arguments.path == "/home"`}, large, "", false},
		{"CEL under the bound is judged", intercept.Rule{Expression: `message.params.arguments.path == "/home"`}, small, "", false},
		{"CEL that never reads message", intercept.Rule{Expression: `tool == "write_file"`}, large, "stop", false},
		{"CEL says no before reading message", intercept.Rule{Expression: `tool == "other" && message.params.x == 1`}, large, "", false},
		{"CEL says yes without message", intercept.Rule{Expression: `tool == "write_file" || message.params.x == 1`}, large, "stop", false},
		{"set applies", intercept.Rule{Fields: field("/params/arguments", "never"), Actions: []intercept.Action{setPath}}, large, "edited", true},
		{"mock applies", intercept.Rule{Fields: field("/params/arguments", "never"), Actions: []intercept.Action{noMock}}, large, "mocked", true},
		{"pause holds (no operator here: its timeout action)", intercept.Rule{Fields: field("/params/arguments", "never"),
			Actions: []intercept.Action{{Action: intercept.ActionPause, Timeout: "1h"}}}, large, "held for the gateway's operator, who did not decide within 1h0m0s", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zap.InfoLevel)
			tt.rule.Name = "r"
			if tt.rule.Actions == nil {
				tt.rule.Actions = []intercept.Action{act(intercept.ActionBlock, func(a *intercept.Action) { a.Message = "stop" })}
			}
			e, err := intercept.New([]intercept.Rule{tt.rule}, zap.New(core))
			if err != nil {
				t.Fatal(err)
			}
			e.MaxDecode(maxDecode)
			var counted atomic.Int32
			e.OnTooLarge(func(rule string) {
				if rule == "r" {
					counted.Add(1)
				}
			})
			in := parse(t, tt.msg)
			v := pipeline.NewChain(e).Run(context.Background(), &pipeline.Exchange{}, in)
			var got string
			switch {
			case v.Action == pipeline.Respond && v.Message.Error != nil:
				_, got, _ = errorOf(t, v.Message)
			case v.Action == pipeline.Respond:
				got = "mocked"
			case v.Message != nil && v.Message != in:
				got = "edited"
			}
			if got != tt.want {
				t.Errorf("got %q, want %q (verdict %+v)", got, tt.want, v)
			}
			if (counted.Load() == 1) != tt.counted {
				t.Errorf("reported unable to judge %d times, want %v", counted.Load(), tt.counted)
			}
			warned := logs.FilterMessageSnippet("too large for a rule to judge").FilterField(zap.String("rule", "r")).Len()
			if (warned == 1) != tt.counted {
				t.Errorf("%d warnings, want one: %v", warned, tt.counted)
			}
		})
	}
}

// TestDefaultMaxDecode: with no bound given, a 1 MiB object is decoded
// and judged, a larger one is not.
func TestDefaultMaxDecode(t *testing.T) {
	e, err := intercept.New([]intercept.Rule{{Fields: []intercept.Field{{Pointer: "/params/arguments", Regexp: "never"}},
		Actions: []intercept.Action{blockIt}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		size    int
		blocked bool
	}{{intercept.DefaultMaxDecode - 4096, false}, {intercept.DefaultMaxDecode + 4096, true}} {
		v := e.Handle(context.Background(), &pipeline.Exchange{}, parse(t, bigCall(tt.size, true)))
		if blocked := v.Action == pipeline.Respond; blocked != tt.blocked {
			t.Errorf("%d bytes: blocked %v, want %v", tt.size, blocked, tt.blocked)
		}
	}
}

// TestBigMessageAllocations: a rule on a 2 MiB message (over the default
// bound) allocates far less than the message (field, CEL), or its size for
// an edit (the edited copy), where decoding it took 5 to 25 times its
// size. Edits cost the same whatever the shape.
func TestBigMessageAllocations(t *testing.T) {
	const size = 2 << 20
	for _, tt := range []struct {
		shape, rule string
		max         uint64
	}{
		{"string", "field", 64 << 10}, {"string", "cel", 64 << 10}, {"string", "set", size + 64<<10}, {"string", "remove", size + 64<<10},
		{"structured", "field", 64 << 10}, {"structured", "cel", 64 << 10},
	} {
		call := parse(t, bigCall(size, tt.shape == "structured"))
		e, err := intercept.New([]intercept.Rule{bigRules[tt.rule]}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ex := &pipeline.Exchange{Direction: pipeline.ToServer}
		if got := allocatedPerRun(func() { e.Handle(context.Background(), ex, call) }); got > tt.max {
			t.Errorf("%s/%s: %d bytes allocated per evaluation, want at most %d", tt.shape, tt.rule, got, tt.max)
		}
	}
}

// allocatedPerRun returns the bytes f allocates, averaged over a few runs.
// Unlike time it does not depend on the machine's load.
func allocatedPerRun(f func()) uint64 {
	const runs = 2
	f() // warm up
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / runs
}
