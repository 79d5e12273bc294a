package intercept_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/intercept"
)

// TestOnAction: the engine reports each action a matching rule reaches,
// by the rule's name (unnamed rules as rule-<n>), and none of a rule that
// does not match or that an earlier block ended before.
func TestOnAction(t *testing.T) {
	rules := []intercept.Rule{
		{Name: "log-all", Actions: []intercept.Action{act(intercept.ActionLog, nil)}},
		{Tools: []string{"echo"}, Actions: []intercept.Action{
			act(intercept.ActionSet, func(a *intercept.Action) { a.Pointer, a.Value = "/params/arguments/x", []byte(`1`) }),
			act(intercept.ActionMock, func(a *intercept.Action) { a.Result = []byte(`{"content":[]}`) }),
		}},
		{Name: "no-etc", Tools: []string{"read_*"}, Actions: []intercept.Action{blockIt}},
		{Name: "after", Actions: []intercept.Action{act(intercept.ActionLog, nil)}},
	}
	tests := []struct {
		msg  string
		want []string
	}{
		{callEcho, []string{"log-all/log", "rule-2/set", "rule-2/mock"}},
		{callRead, []string{"log-all/log", "no-etc/block"}},
		{listTools, []string{"log-all/log", "after/log"}},
	}
	for _, tc := range tests {
		e, err := intercept.New(rules, nil)
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var got []string
		e.OnAction(func(rule, action string) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, rule+"/"+action)
		})
		e.Handle(context.Background(), &pipeline.Exchange{Direction: pipeline.ToServer}, parse(t, tc.msg))
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: actions %q, want %q", tc.msg, got, tc.want)
		}
	}
}
