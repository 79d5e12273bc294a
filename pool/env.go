package pool

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// allowedEnv lists the variables a child inherits from Caddy. Everything else
// (API keys, cloud credentials, CADDY_* …) stays out: a stdio server gets only
// what it needs to find programs and format text, plus what the operator
// configured explicitly.
var allowedEnv = []string{"PATH", "HOME", "USER", "LANG", "TZ", "TMPDIR"}

// allowedEnvKey reports whether a variable of the parent may pass to a child.
func allowedEnvKey(key string) bool {
	return slices.Contains(allowedEnv, key) || strings.HasPrefix(key, "LC_")
}

// childEnv builds a child's environment from the parent's (os.Environ form)
// and the configured extras, which win. The result is sorted and never nil:
// a nil exec.Cmd.Env would mean "inherit everything".
func childEnv(parent []string, extra map[string]string) []string {
	vars := make(map[string]string)
	for _, kv := range parent {
		k, v, ok := strings.Cut(kv, "=")
		if ok && allowedEnvKey(k) {
			vars[k] = v // later duplicates win, as in exec.Cmd
		}
	}
	for k, v := range extra {
		vars[k] = v
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	return env
}

// envValue returns the value of key in an environment list.
func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// lookPath resolves file like exec.LookPath, but against the child's PATH
// (the configured env may override it) instead of Caddy's. A name with a
// slash is used as is; relative PATH entries are skipped, as exec.LookPath
// refuses them (exec.ErrDot), so a server is never picked up from whatever
// directory Caddy happens to run in.
func lookPath(file, path string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, file)
		if isExecutable(p) {
			return p, nil
		}
	}
	return "", &exec.Error{Name: file, Err: exec.ErrNotFound}
}

// isExecutable reports whether p is a regular file with an execute bit.
func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	if err != nil {
		return false
	}
	return fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
