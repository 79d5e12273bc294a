package intercept_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/filter"
	"github.com/caddy-mcp/caddy-mcp/pipeline/intercept"
)

// BenchmarkTwentyRulesAndFilter is the per-message cost of 20 rules that
// do not match (a mix of method, tool, resource, field and user matchers)
// plus a tools filter, for a tools/call that passes, in both directions.
func BenchmarkTwentyRulesAndFilter(b *testing.B) {
	var rules []intercept.Rule
	for i := range 20 {
		r := intercept.Rule{Direction: "both", Actions: []intercept.Action{blockIt}}
		switch i % 5 {
		case 0:
			r.Methods = []string{fmt.Sprintf("custom/%d/*", i)}
		case 1:
			r.Tools = []string{fmt.Sprintf("danger_%d_*", i)}
		case 2:
			r.Resources = []string{"file:///secret/*"}
		case 3:
			r.Tools = []string{"read_file"}
			r.Fields = []intercept.Field{{Pointer: "/params/arguments/path", Regexp: "^/etc/"}}
		case 4:
			r.Users = []string{fmt.Sprintf("user-%d", i)}
		}
		rules = append(rules, r)
	}
	e, err := intercept.New(rules, nil)
	if err != nil {
		b.Fatal(err)
	}
	chain := pipeline.NewChain(filter.New(filter.Config{Tools: &filter.Rules{Deny: []string{"rm_*", "git_push"}}}), e)
	call := parse(b, callEcho)
	answer := parse(b, `{"jsonrpc":"2.0","id":"a","result":{"content":[{"type":"text","text":"hi"}]}}`)
	ctx := context.Background()
	b.Run("to_server", func(b *testing.B) {
		b.ReportAllocs()
		ex := &pipeline.Exchange{Direction: pipeline.ToServer, User: "alice"}
		for b.Loop() {
			if v := chain.Run(ctx, ex, call); v.Message != call {
				b.Fatal("changed")
			}
		}
	})
	b.Run("to_client", func(b *testing.B) {
		b.ReportAllocs()
		ex := &pipeline.Exchange{Direction: pipeline.ToClient, User: "alice", RequestMethod: "tools/call", RequestTarget: "echo"}
		for b.Loop() {
			if v := chain.Run(ctx, ex, answer); v.Message != answer {
				b.Fatal("changed")
			}
		}
	})
}
