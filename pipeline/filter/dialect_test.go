package filter_test

import (
	"context"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/filter"
	"github.com/caddy-mcp/caddy-mcp/pipeline/glob/globtest"
)

// TestDialect runs the glob dialect's table through a deny line: a match
// hides the tool or resource.
func TestDialect(t *testing.T) {
	for _, c := range globtest.Cases {
		rules := &filter.Rules{Deny: []string{c.Pattern}}
		cfg := filter.Config{Tools: rules}
		if c.IsURI() {
			cfg = filter.Config{Resources: rules}
		}
		v := filter.New(cfg).Handle(context.Background(), &pipeline.Exchange{Direction: pipeline.ToServer}, parse(t, string(c.Request())))
		if hidden := v.Action == pipeline.Respond; hidden != c.Match {
			t.Errorf("deny %q hides %q: %v, want %v", c.Pattern, c.Subject, hidden, c.Match)
		}
	}
}
