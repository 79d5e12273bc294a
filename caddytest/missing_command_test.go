package caddytest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// This file shows that a stdio command whose executable is not found fails
// the configuration when it loads — caddy validate, caddy run, caddy
// mcp-proxy — with the command as written and the PATH searched, not at
// the first client with a 502. It runs the built caddy as a process.

// runCaddy runs the built caddy with args in dir (its home and storage
// too) and returns its exit code and output (stdout and stderr).
func runCaddy(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	requireIntegration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, buildCaddy(t), args...)
	cmd.Dir = dir
	cmd.Env = caddyEnv(dir)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	}
	t.Fatalf("caddy %s: %v\n%s", strings.Join(args, " "), err, out)
	return 0, ""
}

// TestValidateMissingCommand: caddy validate fails on a command it can
// judge — a name looked up on Caddy's own PATH or on an env PATH without
// placeholders, an absolute path, a path relative to dir — and only warns
// where the PATH comes from env with a placeholder, which resolves where
// Caddy runs. caddy run fails on that one, before it serves.
func TestValidateMissingCommand(t *testing.T) {
	present := filepath.Join(t.TempDir(), "mcp-server")
	writeScript(t, present, "exec cat")
	for _, tc := range []struct {
		name, stdio string
		exit        int
		says        []string
	}{
		{"name not on Caddy's PATH", "npx-typo -y @modelcontextprotocol/server-everything", 1,
			[]string{`command \"npx-typo\" not found in PATH \"` + os.Getenv("PATH") + `\" (Caddy's own PATH`}},
		{"name not on env PATH", "mcp-server {\n\t\t\tenv PATH /nonexistent-bin\n\t\t}", 1,
			[]string{`command \"mcp-server\" not found in PATH \"/nonexistent-bin\" (the PATH its env sets)`}},
		{"absolute path", "/nonexistent/mcp-server", 1,
			[]string{`command \"/nonexistent/mcp-server\" not found: /nonexistent/mcp-server is not an executable file`}},
		{"relative to dir", "./mcp-servr {\n\t\t\tdir " + filepath.Dir(present) + "\n\t\t}", 1,
			[]string{`command \"./mcp-servr\" not found: ` + filepath.Join(filepath.Dir(present), "mcp-servr")}},
		{"name on env PATH", "mcp-server {\n\t\t\tenv PATH " + filepath.Dir(present) + "\n\t\t}", 0, []string{"Valid configuration"}},
		{"env PATH from a placeholder", "mcp-server {\n\t\t\tenv PATH {env.MCP_TEST_SERVERS}\n\t\t}", 0,
			[]string{"Valid configuration", "the command is not found here", `command \"mcp-server\" not found in PATH \"\"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "Caddyfile")
			site := fmt.Sprintf("{\n\tadmin off\n}\nhttp://127.0.0.1:%d {\n\tmcp_proxy /mcp {\n\t\tstdio %s\n\t}\n}\n",
				testPorts.http, tc.stdio)
			if err := os.WriteFile(file, []byte(site), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out := runCaddy(t, dir, "validate", "--config", file, "--adapter", "caddyfile")
			if code != tc.exit {
				t.Errorf("caddy validate exited %d, want %d:\n%s", code, tc.exit, out)
			}
			for _, s := range tc.says {
				if !strings.Contains(out, s) {
					t.Errorf("caddy validate does not say %s:\n%s", s, out)
				}
			}
		})
	}
}

// TestRunMissingCommandFromPlaceholderPath: where validate only warned,
// caddy run fails — before it spawns anything — when the executable is
// still not found on the PATH the placeholder gives.
func TestRunMissingCommandFromPlaceholderPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "Caddyfile")
	marker := filepath.Join(dir, "spawned")
	site := fmt.Sprintf(`{
	admin off
}
http://%s {
	mcp_proxy /mcp {
		stdio mcp-server {
			env PATH {env.MCP_TEST_SERVERS}
		}
	}
	mcp_proxy /other {
		stdio /bin/sh -c "echo $$ >> '%s'; exec cat" {
			warm 1
		}
	}
}
`, freeLoopbackAddr(t), marker)
	if err := os.WriteFile(file, []byte(site), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := runCaddy(t, dir, "run", "--config", file, "--adapter", "caddyfile")
	if code != 1 || !strings.Contains(out, `command \"mcp-server\" not found in PATH \"\" (the PATH its env sets)`) {
		t.Errorf("caddy run exited %d, want 1 naming the command and its PATH:\n%s", code, out)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("caddy run started a stdio server of the config it refused (marker: %v)", err)
	}
}

// TestProxyCommandMissingExecutable: caddy mcp-proxy with a typo in its
// --to command exits at once, names the command and the PATH, and never
// prints an endpoint.
func TestProxyCommandMissingExecutable(t *testing.T) {
	p := startProxyCommand(t, "--from", freeLoopbackAddr(t), "--to", "npx-typo -y @modelcontextprotocol/server-everything")
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("caddy mcp-proxy with a missing executable still running after 30s:\n%s", p.output.String())
	}
	var exit *exec.ExitError
	if !errors.As(p.err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("exit %v, want status 1 (failed startup)", p.err)
	}
	out := p.output.String()
	if !strings.Contains(out, `command \"npx-typo\" not found in PATH \"`+os.Getenv("PATH")+`\"`) {
		t.Errorf("output does not name the command and the PATH:\n%s", out)
	}
	if strings.Contains(out, "MCP endpoint:") {
		t.Errorf("caddy mcp-proxy printed an endpoint for a command that is not there:\n%s", out)
	}
}
