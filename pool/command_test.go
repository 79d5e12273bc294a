//go:build unix

package pool

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLookCommand: what a configuration's command resolves to before any
// process starts, and what the operator reads when it does not: the
// command as written, and the PATH searched (Caddy's, or the env's).
func TestLookCommand(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "server")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", "/nonexistent-caddy-path")
	for _, tt := range []struct {
		name    string
		cfg     Config
		want    string
		wantErr []string // parts of the message; nil: found
	}{
		{"on the env's PATH", Config{Command: "server", Env: map[string]string{"PATH": "/x:" + dir}}, exe, nil},
		{"not on Caddy's PATH", Config{Command: "npx-typo"}, "",
			[]string{`command "npx-typo" not found in PATH "/nonexistent-caddy-path" (Caddy's own PATH; set env PATH`}},
		{"not on the env's PATH", Config{Command: "server", Env: map[string]string{"PATH": "/elsewhere"}}, "",
			[]string{`command "server" not found in PATH "/elsewhere" (the PATH its env sets)`}},
		{"not executable", Config{Command: "notes", Env: map[string]string{"PATH": dir}}, "", []string{`"notes" not found`}},
		{"a command line", Config{Command: "server --stdio"}, "", []string{"runs without a shell: put its arguments in args"}},
		{"absolute", Config{Command: exe}, exe, nil},
		{"absolute missing", Config{Command: filepath.Join(dir, "nope")}, "",
			[]string{`command "` + filepath.Join(dir, "nope") + `" not found: ` + filepath.Join(dir, "nope") + " is not an executable file"}},
		{"relative to dir", Config{Command: "./server", Dir: dir}, "./server", nil},
		{"relative to dir missing", Config{Command: "./nope", Dir: dir}, "",
			[]string{`command "./nope" not found: ` + filepath.Join(dir, "nope") + " is not"}},
		{"absolute not executable", Config{Command: filepath.Join(dir, "notes")}, "", []string{"is not an executable file"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.LookCommand()
			if tt.wantErr == nil {
				if err != nil || got != tt.want {
					t.Errorf("LookCommand = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, ErrCommandNotFound) {
				t.Fatalf("LookCommand = %q, %v; want ErrCommandNotFound", got, err)
			}
			for _, part := range tt.wantErr {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not say %q", err, part)
				}
			}
		})
	}
}
