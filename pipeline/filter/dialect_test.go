package filter_test

import (
	"context"
	"strings"
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

// TestConfigCheck: a JSON configuration's name globs that read as regexps
// are refused, URI ones warned of.
func TestConfigCheck(t *testing.T) {
	if _, err := (filter.Config{Tools: &filter.Rules{Deny: []string{"get-.*"}}}).Check(); err == nil || !strings.Contains(err.Error(), "tools deny: \"get-.*\"") {
		t.Errorf("tools deny get-.*: %v", err)
	}
	if _, err := (filter.Config{Prompts: &filter.Rules{Allow: []string{"a?"}}}).Check(); err == nil {
		t.Error("prompts allow a?: no error")
	}
	w, err := (filter.Config{Resources: &filter.Rules{Deny: []string{"file:///.*", "https://x/?q=[1]"}}}).Check()
	if err != nil || len(w) != 1 || !strings.Contains(w[0], "resources deny: \"file:///.*\"") {
		t.Errorf("resources: %q, %v; want one warning", w, err)
	}
}
