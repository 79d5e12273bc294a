//go:build unix

package pool

import (
	"bufio"
	"context"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// sparePIDs peeks at the ready spares.
func (tp *testPool) sparePIDs() []int {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var pids []int
	for _, sp := range tp.spares {
		pids = append(pids, sp.PID())
	}
	return pids
}

func TestWarmSpares(t *testing.T) {
	t.Parallel()
	tp := newTestPool(t, Config{Command: "cat", MaxProcesses: 4, Warm: 2})
	tp.Start()
	tp.Start() // idempotent: still one keeper, still two spares
	waitFor(t, "2 spares", 2*time.Second, func() bool { return tp.Stats().Spares == 2 })
	spares := tp.sparePIDs()

	pr := tp.acquire(t)
	defer pr.Release()
	if !slices.Contains(spares, pr.PID()) {
		t.Errorf("Acquire started pid %d instead of using a spare %v", pr.PID(), spares)
	}
	// The keeper replaces the spare that was taken once it answered.
	talk(t, pr, "hello")
	waitFor(t, "the spare replaced", 2*time.Second, func() bool {
		s := tp.Stats()
		return s.Spares == 2 && s.Live == 3 && s.Assigned == 1
	})
	time.Sleep(100 * time.Millisecond)
	if s := tp.Stats(); s.Spawned != 3 {
		t.Errorf("spawned %d, want exactly 3: %+v", s.Spawned, s)
	}
}

// TestNoSpareWhenAllAssigned: spares count toward MaxProcesses; with every
// slot assigned there is none, and one comes back when a slot frees.
func TestNoSpareWhenAllAssigned(t *testing.T) {
	t.Parallel()
	tp := newTestPool(t, Config{Command: "cat", MaxProcesses: 2, Warm: 1})
	tp.Start()
	a, b := tp.acquire(t), tp.acquire(t)
	defer b.Release()
	time.Sleep(200 * time.Millisecond)
	if s := tp.Stats(); s.Live != 2 || s.Spares != 0 || s.Assigned != 2 {
		t.Errorf("stats with all slots assigned = %+v", s)
	}
	a.Release()
	waitFor(t, "a spare in the freed slot", 2*time.Second, func() bool {
		s := tp.Stats()
		return s.Spares == 1 && s.Live == 2
	})
}

// TestSpareCrashReplaced: a spare that dies while idle is replaced.
func TestSpareCrashReplaced(t *testing.T) {
	t.Parallel()
	tp := newTestPool(t, Config{Command: "cat", MaxProcesses: 2, Warm: 1})
	tp.Start()
	waitFor(t, "a spare", 2*time.Second, func() bool { return tp.Stats().Spares == 1 })
	old := tp.sparePIDs()[0]
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new spare", 3*time.Second, func() bool {
		pids := tp.sparePIDs()
		return tp.Stats().Crashed == 1 && len(pids) == 1 && pids[0] != old
	})
	if tp.logs.FilterMessage("idle spare exited").Len() != 1 {
		t.Errorf("crash of the spare not logged")
	}
	pr := tp.acquire(t)
	pr.Release()
}

// TestSpareBackoff: a command that cannot start, or dies at once, is retried
// with exponential backoff instead of spinning.
func TestSpareBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"command not found", Config{Command: "/nonexistent/mcp-server"}},
		{"exits at once", Config{Command: "sh", Args: []string{"-c", "exit 1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cfg.Warm = 2
			tp := newTestPool(t, tt.cfg)
			tp.Start()
			time.Sleep(time.Second)
			s := tp.Stats()
			// 0, 100, 300, 700ms (…1500ms): about four attempts in a second.
			if attempts := s.Spawned + s.SpawnFailed; attempts < 2 || attempts > 7 {
				t.Errorf("%d spawn attempts in 1s, want a handful: %+v", attempts, s)
			}
			if s.Spares != 0 {
				t.Errorf("stats = %+v", s)
			}
		})
	}
}

// flakyCtx reports itself done from its second Err call on: Acquire checks
// it on entry and again after spawning, so it simulates a caller that gave
// up while its process was starting.
type flakyCtx struct {
	context.Context
	calls atomic.Int32
}

func (c *flakyCtx) Err() error {
	if c.calls.Add(1) > 1 {
		return context.Canceled
	}
	return nil
}

// TestSurplusSpareStopped: a process started for a caller that gave up is
// kept as a spare, and stopped after IdleTimeout since it is beyond Warm.
func TestSurplusSpareStopped(t *testing.T) {
	t.Parallel()
	tp := newTestPool(t, Config{Command: "cat", MaxProcesses: 2, Warm: NoWarm, IdleTimeout: 300 * time.Millisecond})
	tp.Start()
	pr, err := tp.Acquire(&flakyCtx{Context: context.Background()})
	if pr != nil || err != context.Canceled {
		t.Fatalf("Acquire = %v, %v", pr, err)
	}
	if s := tp.Stats(); s.Spares != 1 || s.Assigned != 0 {
		t.Fatalf("the process was not kept as a spare: %+v", s)
	}
	parked := tp.sparePIDs()[0]
	start := time.Now()
	waitFor(t, "the surplus spare stopped", 3*time.Second, func() bool {
		s := tp.Stats()
		return s.Spares == 0 && s.Live == 0
	})
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("surplus spare stopped after %s, before IdleTimeout", d)
	}
	if !gone(parked) {
		t.Errorf("pid %d still alive", parked)
	}
	if s := tp.Stats(); s.Crashed != 0 || s.Spawned != 1 {
		t.Errorf("stats = %+v", s)
	}
}

// TestWarmSparesNotStoppedWhenIdle: spares up to Warm stay however long idle.
func TestWarmSparesNotStoppedWhenIdle(t *testing.T) {
	t.Parallel()
	tp := newTestPool(t, Config{Command: "cat", MaxProcesses: 2, Warm: 1, IdleTimeout: 50 * time.Millisecond})
	tp.Start()
	waitFor(t, "a spare", 2*time.Second, func() bool { return tp.Stats().Spares == 1 })
	time.Sleep(300 * time.Millisecond)
	if s := tp.Stats(); s.Spares != 1 || s.Spawned != 1 {
		t.Errorf("stats = %+v", s)
	}
}

// talk writes line to pr's stdin and reads it back from stdout (cat).
func talk(t *testing.T, pr *Process, line string) {
	t.Helper()
	if _, err := pr.Stdin().Write([]byte(line + "\n")); err != nil {
		t.Fatalf("writing stdin: %v", err)
	}
	if got := readLine(t, bufio.NewReader(pr.Stdout())); got != line {
		t.Fatalf("read %q, want %q", got, line)
	}
}

// TestSpareReplacedAfterFirstAnswer: a spare taken by Acquire is replaced
// only once the process said something on stdout, so the replacement's
// start-up does not compete with the session's first exchange; a process
// that never answers is replaced after settleTimeout, and one released
// before answering at once.
func TestSpareReplacedAfterFirstAnswer(t *testing.T) {
	t.Parallel()
	tp := newTestPool(t, Config{Command: "cat", MaxProcesses: 4, Warm: 1})
	tp.Start()
	waitFor(t, "a spare", 2*time.Second, func() bool { return tp.Stats().Spares == 1 })

	pr := tp.acquire(t)
	defer pr.Release()
	time.Sleep(200 * time.Millisecond)
	if s := tp.Stats(); s.Spawned != 1 || s.Spares != 0 {
		t.Fatalf("a replacement started before the taken spare answered: %+v", s)
	}
	talk(t, pr, "initialize")
	waitFor(t, "the replacement", 2*time.Second, func() bool { return tp.Stats().Spares == 1 })

	// Never answers: replaced after settleTimeout all the same.
	quiet := tp.acquire(t)
	defer quiet.Release()
	began := time.Now()
	waitFor(t, "the replacement of a silent process", settleTimeout+2*time.Second, func() bool { return tp.Stats().Spares == 1 })
	if took := time.Since(began); took < settleTimeout/2 {
		t.Errorf("a silent process was replaced after %v, before settleTimeout (%v)", took, settleTimeout)
	}

	// Released before answering: replaced at once.
	gone := tp.acquire(t)
	gone.Release()
	waitFor(t, "the replacement of a released process", settleTimeout/2, func() bool { return tp.Stats().Spares == 1 })
	if s := tp.Stats(); s.Spawned != 4 {
		t.Errorf("spawned %d processes, want 4: %+v", s.Spawned, s)
	}
}
