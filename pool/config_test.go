//go:build unix

package pool

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestWithDefaults(t *testing.T) {
	t.Parallel()
	c := Config{Command: "cat"}.WithDefaults()
	if c.MaxProcesses != 16 || c.Warm != 1 || c.IdleTimeout != time.Minute ||
		c.StopTimeout != 5*time.Second || c.AcquireTimeout != 5*time.Second ||
		c.StderrLinesPerSecond != 20 || c.Logger == nil {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if got := (Config{Warm: NoWarm}).WithDefaults(); got.Warm != NoWarm || got.warmTarget() != 0 {
		t.Fatalf("NoWarm not kept: %+v", got)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none means valid
	}{
		{"defaults", Config{Command: "cat"}, nil},
		{"no spares", Config{Command: "cat", Warm: NoWarm}, nil},
		{"warm equals max", Config{Command: "cat", Warm: 4, MaxProcesses: 4}, nil},
		{"empty command", Config{}, []string{"command is empty"}},
		{"blank command", Config{Command: "  "}, []string{"command is empty"}},
		{"negative max", Config{Command: "cat", MaxProcesses: -1}, []string{"max_processes must be positive, got -1"}},
		{"negative warm", Config{Command: "cat", Warm: -2}, []string{"warm must be zero or positive, got -2"}},
		{"warm above max", Config{Command: "cat", Warm: 5, MaxProcesses: 2}, []string{"warm (5) must not exceed max_processes (2)"}},
		{"default warm above max", Config{Command: "cat", MaxProcesses: 0, Warm: 17}, []string{"warm (17) must not exceed max_processes (16)"}},
		{"negative durations", Config{Command: "cat", IdleTimeout: -1, StopTimeout: -time.Second, AcquireTimeout: -1},
			[]string{"idle_timeout must be positive", "stop_timeout must be positive, got -1s", "acquire_timeout must be positive"}},
		{"negative stderr rate", Config{Command: "cat", StderrLinesPerSecond: -3}, []string{"stderr_lines_per_second must be positive, got -3"}},
		{"bad env name", Config{Command: "cat", Env: map[string]string{"A=B": "x"}}, []string{`invalid variable name "A=B"`}},
		{"NUL in env value", Config{Command: "cat", Env: map[string]string{"A": "x\x00"}}, []string{"value of A contains a NUL byte"}},
		{"several at once", Config{MaxProcesses: -1, StderrLinesPerSecond: -1}, []string{"command is empty", "max_processes", "stderr_lines_per_second"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted %+v", tt.cfg)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if _, nerr := New(tt.cfg); nerr == nil {
				t.Errorf("New accepted an invalid config")
			}
		})
	}
}

func TestFullError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		wait, want time.Duration
	}{
		{0, time.Second},
		{200 * time.Millisecond, time.Second},
		{5 * time.Second, 5 * time.Second},
		{5*time.Second + time.Millisecond, 6 * time.Second},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.wait); got != tt.want {
			t.Errorf("retryAfter(%s) = %s, want %s", tt.wait, got, tt.want)
		}
	}
	var err error = &FullError{Max: 2, Waited: time.Second, RetryAfter: time.Second, Cause: errContext}
	if !errors.Is(err, ErrFull) || !errors.Is(err, errContext) {
		t.Errorf("FullError does not match ErrFull and its cause: %v", err)
	}
	if d, ok := RetryAfter(err); !ok || d != time.Second {
		t.Errorf("RetryAfter = %s, %v", d, ok)
	}
	if _, ok := RetryAfter(ErrClosed); ok {
		t.Errorf("RetryAfter(ErrClosed) reported a full pool")
	}
}

var errContext = errors.New("context gone")
