//go:build unix

package pool

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestChildEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		parent []string
		extra  map[string]string
		want   []string
	}{
		{"empty", nil, nil, []string{}},
		{"allowlist only", []string{
			"PATH=/bin", "HOME=/root", "USER=me", "LANG=C.UTF-8", "LC_ALL=C", "LC_TIME=x", "TZ=UTC", "TMPDIR=/tmp",
			"AWS_SECRET_ACCESS_KEY=s", "CADDY_ADMIN=x", "LCX=no", "PATHX=no", "=weird", "noequals",
		}, nil, []string{"HOME=/root", "LANG=C.UTF-8", "LC_ALL=C", "LC_TIME=x", "PATH=/bin", "TMPDIR=/tmp", "TZ=UTC", "USER=me"}},
		{"extra added and overrides", []string{"PATH=/bin", "HOME=/root"},
			map[string]string{"HOME": "/srv", "API_TOKEN": "t", "EMPTY": ""},
			[]string{"API_TOKEN=t", "EMPTY=", "HOME=/srv", "PATH=/bin"}},
		{"last duplicate wins", []string{"PATH=/a", "PATH=/b"}, nil, []string{"PATH=/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := childEnv(tt.parent, tt.extra)
			if got == nil || !slices.Equal(got, tt.want) {
				t.Errorf("childEnv = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestLookPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	exe := filepath.Join(dir, "server")
	plain := filepath.Join(dir, "notes")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plain, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file, path, want string
		notFound         bool
	}{
		{file: "server", path: "/nonexistent:" + dir, want: exe},
		{file: "notes", path: dir, notFound: true},
		{file: "sub", path: dir, notFound: true},
		{file: "server", path: "", notFound: true},
		{file: "server", path: ".", notFound: true}, // relative entries are skipped
		{file: "./anything", path: "", want: "./anything"},
		{file: "/abs/path", path: "", want: "/abs/path"},
	}
	for _, tt := range tests {
		got, err := lookPath(tt.file, tt.path)
		if tt.notFound {
			if !errors.Is(err, exec.ErrNotFound) {
				t.Errorf("lookPath(%q, %q) = %q, %v; want ErrNotFound", tt.file, tt.path, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("lookPath(%q, %q) = %q, %v; want %q", tt.file, tt.path, got, err, tt.want)
		}
	}
}

// TestChildEnvironment runs `env` in a real child: it sees the allowlist and
// the configured variables, never the rest of the parent's environment.
func TestChildEnvironment(t *testing.T) {
	t.Parallel()
	tp := newTestPool(t, Config{
		Command: "env",
		Env:     map[string]string{"FOO": "bar", "HOME": "/override"},
		Warm:    NoWarm,
	})
	pr := tp.acquire(t)
	defer pr.Release()
	out, err := io.ReadAll(pr.Stdout())
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Split(strings.TrimSpace(string(out)), "\n")
	for _, want := range []string{"FOO=bar", "HOME=/override", localeVar + "=kept", "PATH=" + os.Getenv("PATH")} {
		if !slices.Contains(env, want) {
			t.Errorf("child env lacks %q: %q", want, env)
		}
	}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k == secretVar || !(allowedEnvKey(k) || k == "FOO") {
			t.Errorf("child env has %q, which is neither allowlisted nor configured", kv)
		}
	}
}
