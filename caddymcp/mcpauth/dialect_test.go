package mcpauth

import (
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/glob/globtest"
)

// TestDialect runs the glob dialect's table through a scope rule's tool.
func TestDialect(t *testing.T) {
	for _, c := range globtest.Cases {
		msg, err := pipeline.Parse(c.Request())
		if err != nil {
			t.Fatal(err)
		}
		if got := (ScopeRule{Scopes: []string{"s"}, Tools: []string{c.Pattern}}).applies(msg); got != c.Match {
			t.Errorf("scope tool %q applies to %q: %v, want %v", c.Pattern, c.Subject, got, c.Match)
		}
	}
}
