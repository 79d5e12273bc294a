package mcphttp

import (
	"testing"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "a/b/c", true},
		{"search_*", "search_web", true},
		{"search_*", "research_web", false},
		{"*_web", "search_web", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"?", "é", true},
		{"tools/*", "tools/call", true},
		{"resources/*", "tools/call", false},
		{"**", "x", true},
		{"a*", "a", true},
		{"*a", "bab", false},
		{"*a", "aba", true},
	}
	for _, tt := range tests {
		if got := Glob(tt.pattern, tt.s); got != tt.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}
