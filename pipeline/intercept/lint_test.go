package intercept_test

import (
	"reflect"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-mcp/caddy-mcp/pipeline/intercept"
)

// TestUnreachable: a rule that an earlier block or mock rule covers is
// reported; one the earlier rule may not cover is not.
func TestUnreachable(t *testing.T) {
	mock := act(intercept.ActionMock, func(a *intercept.Action) { a.Result = []byte(`{}`) })
	logIt := act(intercept.ActionLog, nil)
	pause := act(intercept.ActionPause, nil)
	rule := func(name string, f func(*intercept.Rule), actions ...intercept.Action) intercept.Rule {
		r := intercept.Rule{Name: name, Actions: actions}
		if f != nil {
			f(&r)
		}
		return r
	}
	tools := func(g ...string) func(*intercept.Rule) { return func(r *intercept.Rule) { r.Tools = g } }
	tests := []struct {
		name  string
		rules []intercept.Rule
		want  []intercept.Shadow
	}{
		{"tool * then block", []intercept.Rule{rule("all", tools("*"), blockIt), rule("env", tools("get_env"), blockIt)}, []intercept.Shadow{{Earlier: 0, Later: 1}}},
		{"catch-all rule", []intercept.Rule{rule("all", nil, logIt, blockIt), rule("env", tools("get_env"), logIt)}, []intercept.Shadow{{Earlier: 0, Later: 1}}},
		{"mock", []intercept.Rule{rule("a", tools("get_*"), mock), rule("b", tools("get_env", "get_*_x"), blockIt)}, []intercept.Shadow{{Earlier: 0, Later: 1}}},
		{"method covers tool", []intercept.Rule{rule("a", func(r *intercept.Rule) { r.Methods = []string{"tools/*"} }, blockIt), rule("b", tools("x"), blockIt)}, []intercept.Shadow{{Earlier: 0, Later: 1}}},
		{"specific first", []intercept.Rule{rule("env", tools("get_env"), blockIt), rule("all", tools("*"), blockIt)}, nil},
		{"earlier only logs", []intercept.Rule{rule("all", tools("*"), logIt), rule("env", tools("get_env"), blockIt)}, nil},
		{"earlier pauses", []intercept.Rule{rule("all", tools("*"), pause), rule("env", tools("get_env"), blockIt)}, nil},
		{"narrower glob", []intercept.Rule{rule("a", tools("get_*"), blockIt), rule("b", tools("*_env"), blockIt)}, nil},
		{"tools vs prompts", []intercept.Rule{rule("a", tools("*"), blockIt), rule("b", func(r *intercept.Rule) { r.Prompts = []string{"x"} }, blockIt)}, nil},
		{"tool rule vs all", []intercept.Rule{rule("a", tools("*"), blockIt), rule("b", nil, blockIt)}, nil},
		{"other direction", []intercept.Rule{rule("a", tools("*"), blockIt), rule("b", func(r *intercept.Rule) { r.Direction = "to_client"; r.Tools = []string{"x"} }, blockIt)}, nil},
		{"earlier has a field", []intercept.Rule{rule("a", func(r *intercept.Rule) {
			r.Fields = []intercept.Field{{Pointer: "/params/name", Regexp: "x"}}
		}, blockIt), rule("b", tools("x"), blockIt)}, nil},
		{"earlier for some users", []intercept.Rule{rule("a", func(r *intercept.Rule) { r.Users = []string{"bob"} }, blockIt), rule("b", tools("x"), blockIt)}, nil},
		{"each reported once", []intercept.Rule{rule("a", nil, blockIt), rule("b", nil, blockIt), rule("c", tools("x"), blockIt)}, []intercept.Shadow{{Earlier: 0, Later: 1}, {Earlier: 0, Later: 2}}},
	}
	for _, tt := range tests {
		if got := intercept.Unreachable(tt.rules); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Unreachable = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestNewWarnsUnreachable: the engine logs the unreachable rule with both
// names when it loads.
func TestNewWarnsUnreachable(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	rules := []intercept.Rule{
		{Name: "all", Tools: []string{"*"}, Actions: []intercept.Action{blockIt}},
		{Name: "get-env", Tools: []string{"get_env"}, Actions: []intercept.Action{blockIt}},
	}
	if _, err := intercept.New(rules, zap.New(core)); err != nil {
		t.Fatal(err)
	}
	want := `intercept rule "get-env" can never apply: rule "all" before it blocks every message it matches`
	if logs.Len() != 1 || !strings.Contains(logs.All()[0].Message, want) {
		t.Fatalf("logged %v, want one warning with %q", logs.All(), want)
	}
	core, logs = observer.New(zap.WarnLevel)
	if _, err := intercept.New([]intercept.Rule{rules[1], rules[0]}, zap.New(core)); err != nil || logs.Len() != 0 {
		t.Fatalf("specific rule first: %v, logged %v", err, logs.All())
	}
}
