package glob_test

import (
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline/glob"
)

// TestCheckName: each regexp form on a tool or prompt name is refused,
// with the glob meant; plain globs and dotted namespaces pass.
func TestCheckName(t *testing.T) {
	tests := []struct {
		pattern string
		want    string // in the error; "" for no error
	}{
		{"get_env", ""},
		{"get-*", ""},
		{"*_delete", ""},
		{"github.*", ""}, // a dotted namespace
		{"a.b.c", ""},
		{"*", ""},
		{"get-.*", "did you mean `get-*`?"},
		{".*_env", "did you mean `*_env`?"},
		{"get_.*", "(`.*`)"},
		{"get-?nv", "did you mean `get-*nv`?"},
		{"deny-[a-z]*", "did you mean `deny-*`?"},
		{"get-[a-z]", "(`[`)"},
		{"^get_env$", "did you mean `get_env`?"},
		{"^get_", "did you mean `get_`?"},
		{"get_env$", "(`$`)"},
		{"get.+", "did you mean `get*`?"},
		{`tool_\d+`, "did you mean `tool_*`?"},
		{`a\.b`, "did you mean `a.b`?"},
		{"(get|set)_env", "did you mean `get_env set_env`?"},
		{"get_env|set_env", "did you mean `get_env set_env`?"},
		{"get_env{2}", "(`{`)"},
	}
	for _, tt := range tests {
		warn, err := glob.Check(glob.Name, tt.pattern)
		if warn != "" {
			t.Errorf("Check(Name, %q) warned %q; names are refused or accepted", tt.pattern, warn)
		}
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Check(Name, %q) = %v, want no error", tt.pattern, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("Check(Name, %q) = %v, want an error with %q", tt.pattern, err, tt.want)
		case err != nil && !strings.Contains(err.Error(), "patterns are globs: `*` matches any run of characters"):
			t.Errorf("Check(Name, %q) = %v: does not say the dialect", tt.pattern, err)
		}
	}
}

// TestCheckURI: on URIs only .* and anchors warn; ? and [ are URI
// characters.
func TestCheckURI(t *testing.T) {
	tests := []struct {
		pattern, want string // want in the warning; "" for none
	}{
		{"file:///etc/*", ""},
		{"https://x/search?q=*", ""},
		{"urn:x:[1]", ""},
		{"file:///a+b/(1)", ""},
		{"file:///etc/.*", "did you mean `file:///etc/*`?"},
		{"^file:///etc/*", "did you mean `file:///etc/*`?"},
		{"file:///etc/passwd$", "did you mean `file:///etc/passwd`?"},
	}
	for _, tt := range tests {
		warn, err := glob.Check(glob.URI, tt.pattern)
		if err != nil {
			t.Errorf("Check(URI, %q) refused: %v", tt.pattern, err)
		}
		if tt.want == "" && warn != "" || tt.want != "" && !strings.Contains(warn, tt.want) {
			t.Errorf("Check(URI, %q) warned %q, want %q", tt.pattern, warn, tt.want)
		}
	}
}

func TestKindOf(t *testing.T) {
	for p, want := range map[string]glob.Kind{"get_*": glob.Name, "file:///*": glob.URI, "ui://x": glob.URI, "^get$": glob.Name} {
		if got := glob.KindOf(p); got != want {
			t.Errorf("KindOf(%q) = %v, want %v", p, got, want)
		}
	}
}
