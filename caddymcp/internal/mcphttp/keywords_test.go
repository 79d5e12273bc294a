package mcphttp

import "testing"

func TestNearest(t *testing.T) {
	valid := []string{"env", "dir", "warm", "idle_timeout", "stop_timeout", "spare_check", "spare_check_timeout"}
	tests := []struct {
		word, want string
	}{
		{"warn", "warm"}, // a substitution
		{"wram", "warm"}, // a swap
		{"idle-timeout", "idle_timeout"},
		{"idletimeout", "idle_timeout"},
		{"stop_timout", "stop_timeout"},
		{"environment", "env"},   // valid is a prefix
		{"idle", "idle_timeout"}, // a prefix of valid
		{"spare_chek", "spare_check"},
		{"upstream", ""}, // nothing close
		{"x", ""},
		{"dirs", "dir"},
		{"en", "env"},
	}
	for _, tt := range tests {
		got, ok := Nearest(tt.word, valid)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("Nearest(%q) = %q, %v; want %q", tt.word, got, ok, tt.want)
		}
	}
}
