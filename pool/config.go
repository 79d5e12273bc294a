package pool

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Defaults applied by Config.WithDefaults to fields left at their zero value.
const (
	DefaultMaxProcesses         = 16
	DefaultWarm                 = 1
	DefaultIdleTimeout          = time.Minute
	DefaultStopTimeout          = 5 * time.Second
	DefaultAcquireTimeout       = 5 * time.Second
	DefaultStderrLinesPerSecond = 20
	DefaultReadyTimeout         = 30 * time.Second
)

// NoWarm is the Config.Warm value that keeps no spares at all. It exists
// because the zero value of Warm means "the default" (one spare).
const NoWarm = -1

// Config describes the command a pool runs and the bounds it keeps.
// The zero value of every optional field means its default.
type Config struct {
	// Command is the executable. It is run directly, never through a shell;
	// a name without a slash is resolved against the child's PATH (which
	// Env may override), not Caddy's; a relative path with a slash is
	// relative to Dir.
	Command string
	// Args are the arguments after the command name.
	Args []string
	// Env is added to the allowlisted environment and overrides it.
	Env map[string]string
	// Dir is the child's working directory; empty means Caddy's.
	Dir string

	// MaxProcesses bounds the live processes, spares included (default 16).
	MaxProcesses int
	// Warm is how many spares are kept started ahead of Acquire (default 1;
	// NoWarm for none). Spares are never initialized by the pool. It must not
	// exceed MaxProcesses.
	Warm int
	// IdleTimeout stops a spare beyond Warm that stayed unassigned this long
	// (default 1m).
	IdleTimeout time.Duration
	// StopTimeout is each wait of the stop sequence: after closing stdin and
	// after SIGTERM (default 5s).
	StopTimeout time.Duration
	// AcquireTimeout is how long Acquire waits for a free slot before it
	// fails with ErrFull (default 5s).
	AcquireTimeout time.Duration
	// StderrLinesPerSecond bounds the stderr lines logged per process per
	// second; the rest are counted and summarized (default 20).
	StderrLinesPerSecond int
	// Ready, if set, checks every new spare before Acquire may hand it out:
	// it talks to the process over stdin and stdout (the MCP upstream sends
	// a ping, which servers answer before initialize) and returns nil once
	// the server answered. It must read no further than the answer: what
	// follows belongs to the session. A spare whose check fails is stopped.
	Ready func(stdin io.Writer, stdout io.Reader) error
	// ReadyTimeout bounds a Ready check (default 30s). A server that does not
	// answer in time is taken not to answer before initialize at all: the
	// spare is stopped and later spares are used unchecked.
	ReadyTimeout time.Duration
	// Logger receives stderr lines and lifecycle events; nil discards them.
	Logger *zap.Logger
}

// WithDefaults returns a copy of c with every zero field set to its default.
// Negative values are left alone so Validate can report them.
func (c Config) WithDefaults() Config {
	if c.MaxProcesses == 0 {
		c.MaxProcesses = DefaultMaxProcesses
	}
	if c.Warm == 0 {
		c.Warm = DefaultWarm
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	if c.AcquireTimeout == 0 {
		c.AcquireTimeout = DefaultAcquireTimeout
	}
	if c.StderrLinesPerSecond == 0 {
		c.StderrLinesPerSecond = DefaultStderrLinesPerSecond
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// Validate reports every problem of c (after defaults) in one error, each
// naming the setting to fix.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("pool: "+format, args...))
	}

	if strings.TrimSpace(c.Command) == "" {
		bad("command is empty")
	}
	for k, v := range c.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			bad("env: invalid variable name %q", k)
		}
		if strings.ContainsRune(v, 0) {
			bad("env: value of %s contains a NUL byte", k)
		}
	}
	if c.MaxProcesses < 0 {
		bad("max_processes must be positive, got %d", c.MaxProcesses)
	}
	if c.Warm < 0 && c.Warm != NoWarm {
		bad("warm must be zero or positive, got %d", c.Warm)
	}
	if c.MaxProcesses > 0 && c.Warm > c.MaxProcesses {
		bad("warm (%d) must not exceed max_processes (%d): spares count toward the limit", c.Warm, c.MaxProcesses)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"idle_timeout", c.IdleTimeout},
		{"stop_timeout", c.StopTimeout},
		{"acquire_timeout", c.AcquireTimeout},
		{"ready_timeout", c.ReadyTimeout},
	} {
		if d.v < 0 {
			bad("%s must be positive, got %s", d.name, d.v)
		}
	}
	if c.StderrLinesPerSecond < 0 {
		bad("stderr_lines_per_second must be positive, got %d", c.StderrLinesPerSecond)
	}
	return errors.Join(errs...)
}

// warmTarget is the number of spares to keep, with NoWarm mapped to zero.
func (c Config) warmTarget() int {
	return max(c.Warm, 0)
}
