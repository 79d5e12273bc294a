//go:build unix

package pool

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// catLimits is a pool of cat processes with the given bounds; idle spares
// never time out, so only SetLimits can make the pool stop one.
func catLimits(maxProcs, warm int) Config {
	return Config{Command: "cat", MaxProcesses: maxProcs, Warm: warm, IdleTimeout: time.Hour}
}

// TestSetLimitsWarm: a new Warm applies at once, up or down, without
// waiting for IdleTimeout, and the stopped spares are reaped.
func TestSetLimitsWarm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		from, to   int
		wantSpares int
	}{
		{"raise", 1, 3, 3},
		{"lower", 3, 1, 1},
		{"to none", 2, NoWarm, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tp := newTestPool(t, catLimits(4, tt.from))
			tp.Start()
			from := max(tt.from, 0)
			waitFor(t, "the first spares", 5*time.Second, func() bool { return tp.Stats().Spares == from })
			if err := tp.SetLimits(catLimits(4, tt.to)); err != nil {
				t.Fatalf("SetLimits: %v", err)
			}
			waitFor(t, "the new number of spares, all others reaped", 5*time.Second, func() bool {
				s := tp.Stats()
				return s.Spares == tt.wantSpares && s.Live == tt.wantSpares && s.Stopping == 0
			})
			if got := tp.Limits().Warm; got != tt.to {
				t.Errorf("Limits().Warm = %d, want %d", got, tt.to)
			}
			if s := tp.Stats(); s.Crashed != 0 {
				t.Errorf("a stopped spare counted as crashed: %+v", s)
			}
		})
	}
}

// TestSetLimitsRaiseMaxAdmitsWaiter: an Acquire waiting on a full pool
// proceeds as soon as MaxProcesses grows, while the busy process stays.
func TestSetLimitsRaiseMaxAdmitsWaiter(t *testing.T) {
	t.Parallel()
	cfg := catLimits(1, NoWarm)
	cfg.AcquireTimeout = 30 * time.Second
	tp := newTestPool(t, cfg)
	busy := tp.acquire(t)
	defer busy.Release()

	got := make(chan *Process, 1)
	go func() {
		pr, err := tp.Acquire(context.Background())
		if err != nil {
			t.Errorf("waiting Acquire: %v", err)
		}
		got <- pr
	}()
	waitFor(t, "a waiter", 5*time.Second, func() bool { return tp.Stats().Waiting == 1 })

	cfg.MaxProcesses = 2
	if err := tp.SetLimits(cfg); err != nil {
		t.Fatalf("SetLimits: %v", err)
	}
	select {
	case pr := <-got:
		if pr == nil {
			t.Fatal("no process")
		}
		defer pr.Release()
		talk(t, pr, "second")
		talk(t, busy, "first") // the busy process was left alone
		if s := tp.Stats(); s.Live != 2 || s.Assigned != 2 || s.Waiting != 0 {
			t.Errorf("stats = %+v", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("raising max_processes did not admit the waiting Acquire (its own deadline is 30s)")
	}
}

// TestSetLimitsLowerMax: a lower MaxProcesses stops spares beyond it at
// once, never an assigned process, and admits nothing new until the live
// processes drop below it.
func TestSetLimitsLowerMax(t *testing.T) {
	t.Parallel()
	cfg := catLimits(4, 2)
	cfg.AcquireTimeout = 200 * time.Millisecond
	tp := newTestPool(t, cfg)
	tp.Start()
	a, b := tp.acquire(t), tp.acquire(t)
	defer a.Release()
	talk(t, a, "a")
	talk(t, b, "b") // both settled: the keeper refills the spares
	waitFor(t, "two spares beside two sessions", 5*time.Second, func() bool {
		s := tp.Stats()
		return s.Spares == 2 && s.Live == 4
	})

	lower := cfg
	lower.MaxProcesses, lower.Warm = 1, 1
	if err := tp.SetLimits(lower); err != nil {
		t.Fatalf("SetLimits: %v", err)
	}
	waitFor(t, "the spares stopped and reaped", 5*time.Second, func() bool {
		s := tp.Stats()
		return s.Spares == 0 && s.Live == 2 && s.Stopping == 0
	})
	talk(t, a, "a still runs")
	talk(t, b, "b still runs")

	// Two live processes, max one: no new process, not even a spare.
	if _, err := tp.Acquire(context.Background()); !errors.Is(err, ErrFull) {
		t.Fatalf("Acquire above the lowered max_processes: %v, want ErrFull", err)
	}
	b.Release()
	waitFor(t, "b reaped", 5*time.Second, func() bool { return tp.Stats().Live == 1 })
	if s := tp.Stats(); s.Spares != 0 || s.Spawned != 4 {
		t.Errorf("a process started while the pool was at its lowered max: %+v", s)
	}
	a.Release()
	waitFor(t, "one spare once below the max", 5*time.Second, func() bool {
		s := tp.Stats()
		return s.Spares == 1 && s.Live == 1
	})
}

// TestSetLimitsRejects: SetLimits refuses invalid bounds and any change to
// what defines a process, and leaves the pool's limits as they were.
func TestSetLimitsRejects(t *testing.T) {
	t.Parallel()
	base := Config{Command: "cat", Args: []string{"-u"}, Env: map[string]string{"A": "1"}, Dir: "/", Warm: NoWarm}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"command", func(c *Config) { c.Command = "tee" }, "cannot change the command"},
		{"args", func(c *Config) { c.Args = nil }, "cannot change the command"},
		{"env", func(c *Config) { c.Env = map[string]string{"A": "2"} }, "cannot change the command"},
		{"dir", func(c *Config) { c.Dir = "/tmp" }, "cannot change the command"},
		{"warm above max", func(c *Config) { c.MaxProcesses, c.Warm = 1, 2 }, "warm (2) must not exceed max_processes (1)"},
		{"negative timeout", func(c *Config) { c.AcquireTimeout = -1 }, "acquire_timeout must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tp := newTestPool(t, base)
			cfg := base
			cfg.Env = map[string]string{"A": "1"}
			tt.change(&cfg)
			cfg.MaxProcesses = max(cfg.MaxProcesses, 0)
			err := tp.SetLimits(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("SetLimits = %v, want an error with %q", err, tt.want)
			}
			if got := tp.Limits(); got.MaxProcesses != DefaultMaxProcesses || got.AcquireTimeout != DefaultAcquireTimeout {
				t.Errorf("a rejected SetLimits changed the limits: %+v", got)
			}
		})
	}
}

// TestSetLimitsReady: turning the spare check on, or changing its timeout
// after a check timed out, makes the next spares checked again.
func TestSetLimitsReady(t *testing.T) {
	t.Parallel()
	const answersPing = `while read l; do if [ "$l" = ping ]; then echo pong; else echo "$l"; fi; done`
	tests := []struct {
		name string
		// first is the check the pool starts with (nil: none); a
		// ReadyTimeout of 200ms makes a check of cat, which never says
		// pong, time out and turn checks off
		script       string
		first        bool
		firstTimeout time.Duration
		wantFirst    int32 // checks before SetLimits
	}{
		{"turned on", answersPing, false, 0, 0},
		{"new timeout after one timed out", "cat", true, 200 * time.Millisecond, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			cfg := Config{Command: "/bin/sh", Args: []string{"-c", tt.script}, MaxProcesses: 4, Warm: 1,
				IdleTimeout: time.Hour, ReadyTimeout: tt.firstTimeout}
			if tt.first {
				cfg.Ready = pingPong(&calls)
			}
			tp := newTestPool(t, cfg)
			tp.Start()
			waitFor(t, "the first spare", 5*time.Second, func() bool { return tp.Stats().Spares == 1 })
			if got := calls.Load(); got != tt.wantFirst {
				t.Fatalf("%d checks before SetLimits, want %d", got, tt.wantFirst)
			}

			cfg.Ready, cfg.ReadyTimeout, cfg.Warm = pingPong(&calls), 300*time.Millisecond, 2
			if err := tp.SetLimits(cfg); err != nil {
				t.Fatalf("SetLimits: %v", err)
			}
			waitFor(t, "a checked spare", 5*time.Second, func() bool { return calls.Load() > tt.wantFirst })
		})
	}
}
