package intercept_test

import (
	"context"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/glob"
	"github.com/caddy-mcp/caddy-mcp/pipeline/glob/globtest"
	"github.com/caddy-mcp/caddy-mcp/pipeline/intercept"
)

// TestDialect runs the glob dialect's table through a tool or resource
// line of a block rule: a match blocks. A tool glob the rule refuses (it
// reads as a regexp) goes through a resource line, where it is allowed.
func TestDialect(t *testing.T) {
	for _, c := range globtest.Cases {
		r := intercept.Rule{Tools: []string{c.Pattern}, Actions: []intercept.Action{blockIt}}
		req := c.Request()
		if _, refused := glob.Check(glob.Name, c.Pattern); c.IsURI() || refused != nil {
			r = intercept.Rule{Resources: []string{c.Pattern}, Actions: []intercept.Action{blockIt}}
			req = globtest.Case{Subject: c.Subject}.ReadRequest()
		}
		e, err := intercept.New([]intercept.Rule{r}, nil)
		if err != nil {
			t.Fatalf("%q: %v", c.Pattern, err)
		}
		v := e.Handle(context.Background(), &pipeline.Exchange{Direction: pipeline.ToServer}, parse(t, string(req)))
		if blocked := v.Action == pipeline.Respond; blocked != c.Match {
			t.Errorf("rule %q blocks %q: %v, want %v", c.Pattern, c.Subject, blocked, c.Match)
		}
	}
}
