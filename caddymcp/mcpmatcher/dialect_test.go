package mcpmatcher

import (
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/glob/globtest"
)

// TestDialect runs the glob dialect's table through the matcher's tool.
func TestDialect(t *testing.T) {
	for _, c := range globtest.Cases {
		msg, err := pipeline.Parse(c.Request())
		if err != nil {
			t.Fatal(err)
		}
		if got := (MatchMCP{Tool: []string{c.Pattern}}).matches(msg); got != c.Match {
			t.Errorf("tool %q matches %q: %v, want %v", c.Pattern, c.Subject, got, c.Match)
		}
	}
}
