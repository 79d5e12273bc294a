package mcpmatcher

import (
	"strings"
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

// TestValidateGlobs: a JSON configuration's name globs that read as
// regexps are refused.
func TestValidateGlobs(t *testing.T) {
	for _, m := range []MatchMCP{{Tool: []string{"^echo$"}}, {Method: []string{"tools/.*"}}} {
		if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "patterns are globs") {
			t.Errorf("%+v: Validate = %v", m, err)
		}
	}
	if err := (&MatchMCP{Tool: []string{"file:///.*", "echo", "github.*"}}).Validate(); err != nil {
		t.Errorf("URI and plain globs: %v", err)
	}
}
