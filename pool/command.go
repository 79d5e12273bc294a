package pool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrCommandNotFound is what CommandError wraps: the executable a process
// would run is not there.
var ErrCommandNotFound = errors.New("executable not found")

// CommandError says that the executable of a pool's command is not found,
// and where it was looked for.
type CommandError struct {
	// Command is the command as configured.
	Command string
	// Path is the PATH searched for a name without a slash ("" for a path).
	Path string
	// PathFromEnv says that Path is the configured env's PATH, not Caddy's.
	PathFromEnv bool
	// Tried is the file a path with a slash stands for (relative to Dir).
	Tried string
}

func (e *CommandError) Error() string {
	if e.Tried != "" {
		return fmt.Sprintf("command %q not found: %s is not an executable file", e.Command, e.Tried)
	}
	whose := "Caddy's own PATH; set env PATH to search elsewhere"
	if e.PathFromEnv {
		whose = "the PATH its env sets"
	}
	msg := fmt.Sprintf("command %q not found in PATH %q (%s)", e.Command, e.Path, whose)
	if strings.ContainsAny(e.Command, " \t") {
		msg += "; the command runs without a shell: put its arguments in args"
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrCommandNotFound) hold.
func (e *CommandError) Unwrap() error { return ErrCommandNotFound }

// LookCommand finds the executable a process of c would run, as a spawn
// does: a name without a slash on the child's PATH (Env's PATH, else the
// one the child inherits from Caddy's environment), a path with a slash as
// it is, relative to Dir. It fails with a *CommandError, so that a
// configuration naming a missing program fails when it loads rather than
// at its first client.
func (c Config) LookCommand() (string, error) {
	if strings.Contains(c.Command, "/") {
		p := c.Command
		if !filepath.IsAbs(p) && c.Dir != "" {
			p = filepath.Join(c.Dir, p)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = p
		}
		if !isExecutable(abs) {
			return "", &CommandError{Command: c.Command, Tried: abs}
		}
		return c.Command, nil
	}
	env := childEnv(os.Environ(), c.Env)
	path := envValue(env, "PATH")
	found, err := lookPath(c.Command, path)
	if err != nil {
		_, fromEnv := c.Env["PATH"]
		return "", &CommandError{Command: c.Command, Path: path, PathFromEnv: fromEnv}
	}
	return found, nil
}
