package glob_test

import (
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline/glob"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		glob, s string
		want    bool
	}{
		{"tools/call", "tools/call", true},
		{"tools/call", "tools/calls", false},
		{"tools/call", "tools/cal", false},
		{"", "", true},
		{"", "x", false},
		{"*", "", true},
		{"*", "anything/at/all", true},
		{"resources/*", "resources/read", true},
		{"resources/*", "resources/", true},
		{"resources/*", "resource/read", false},
		{"notifications/*", "notifications/tools/list_changed", true},
		{"file:///secret/*", "file:///secret/a/b/c.txt", true},
		{"file:///secret/*", "file:///secrets/a", false},
		{"*_delete", "repo_delete", true},
		{"*_delete", "repo_delete_all", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbYcb", false},
		{"a*b*c", "acb", false},
		{"a*a", "a", false},
		{"a*a", "aa", true},
		{"*ab*ab*", "xabyab", true},
		{"*ab*ab*", "xaby", false},
		{"**", "x", true},
		{"a?b", "axb", false}, // only * is special
		{"a?b", "a?b", true},
	}
	for _, tt := range tests {
		if got := glob.Compile(tt.glob).Match(tt.s); got != tt.want {
			t.Errorf("Compile(%q).Match(%q) = %v, want %v", tt.glob, tt.s, got, tt.want)
		}
	}
}

func TestSet(t *testing.T) {
	tests := []struct {
		globs []string
		s     string
		want  bool
	}{
		{nil, "x", false},
		{[]string{"a", "b"}, "b", true},
		{[]string{"a", "b"}, "c", false},
		{[]string{"git_*", "fs_read"}, "git_push", true},
		{[]string{"git_*", "fs_read"}, "fs_read", true},
		{[]string{"git_*", "fs_read"}, "fs_write", false},
	}
	for _, tt := range tests {
		if got := glob.CompileSet(tt.globs).Match(tt.s); got != tt.want {
			t.Errorf("%q.Match(%q) = %v, want %v", tt.globs, tt.s, got, tt.want)
		}
	}
}

func BenchmarkSetMiss(b *testing.B) {
	s := glob.CompileSet([]string{"git_*", "fs_*_dangerous", "exact_name"})
	for b.Loop() {
		if s.Match("search_issues") {
			b.Fatal("matched")
		}
	}
}
