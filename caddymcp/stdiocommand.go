package caddymcp

import (
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pool"
)

// A stdio command whose executable is not there fails the configuration
// when it loads — caddy run, a reload, caddy mcp-proxy, caddy validate —
// rather than its first client with a 502. What provisioning cannot decide
// is left to the mcp app's Start, which caddy validate never calls: where
// the command, its dir or the PATH of its env holds a placeholder, validate
// may run where those resolve otherwise (another machine, another
// environment), so it only warns.

// checkCommand looks up the executable of cfg (the pool configuration of
// u, placeholders replaced). Not found, it fails when provisioning can
// decide, else it logs a warning and leaves the failing to the app's Start.
func (h *Handler) checkCommand(u *StdioUpstream, cfg pool.Config, upstreamName string) error {
	_, err := cfg.LookCommand()
	if err == nil {
		return nil
	}
	err = commandError(u, err)
	if !u.resolvesAtRunTime() {
		return err
	}
	h.logger.Warn("stdio: the command is not found here; its command, dir or env PATH holds a placeholder, "+
		"so the configuration fails only when it starts where the executable is still not found",
		zapUpstream(upstreamName), zap.Error(err))
	h.app.beforeStart(func() error {
		if _, err := cfg.LookCommand(); err != nil {
			return fmt.Errorf("mcp_proxy: upstream %s: stdio: %v", upstreamName, commandError(u, err))
		}
		return nil
	})
	return nil
}

// resolvesAtRunTime says whether where the executable is found depends on
// placeholders: in the command, the dir, or (for a name without a slash)
// the PATH the env sets.
func (u *StdioUpstream) resolvesAtRunTime() bool {
	if hasPlaceholder(u.Command) || hasPlaceholder(u.Dir) {
		return true
	}
	path, set := u.Env["PATH"]
	return set && !strings.Contains(u.Command, "/") && hasPlaceholder(path)
}

// hasPlaceholder says whether s holds a {placeholder}.
func hasPlaceholder(s string) bool {
	i := strings.IndexByte(s, '{')
	return i >= 0 && strings.IndexByte(s[i:], '}') > 0
}

// commandError names the command as the operator wrote it when that
// differs from what it became after placeholders.
func commandError(u *StdioUpstream, err error) error {
	if ce, ok := err.(*pool.CommandError); ok && ce.Command != u.Command {
		return fmt.Errorf("%v (written %q)", err, u.Command)
	}
	return err
}
