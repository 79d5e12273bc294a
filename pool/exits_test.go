//go:build unix

package pool

import (
	"errors"
	"io"
	"testing"
	"time"
)

// TestExitCauses: each way a process leaves the pool is counted once, under
// its own cause, once the process is reaped.
func TestExitCauses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		act  func(t *testing.T, tp *testPool)
		want ExitCause
	}{
		{"released", catLimits(2, NoWarm), func(t *testing.T, tp *testPool) {
			tp.acquire(t).Release()
		}, ExitReleased},
		{"crashed", shell("exit 3"), func(t *testing.T, tp *testPool) {
			pr := tp.acquire(t)
			waitDone(t, pr, 5*time.Second)
			pr.Release() // after the exit: not a stop of the pool's
		}, ExitCrashed},
		{"surplus", catLimits(2, 1), func(t *testing.T, tp *testPool) {
			tp.Start()
			waitFor(t, "the spare", 5*time.Second, func() bool { return tp.Stats().Spares == 1 })
			if err := tp.SetLimits(catLimits(2, NoWarm)); err != nil {
				t.Fatalf("SetLimits: %v", err)
			}
		}, ExitSurplus},
		{"unready", Config{Command: "cat", MaxProcesses: 1, Warm: 1,
			Ready: func(io.Writer, io.Reader) error { return errors.New("not ready") }}, func(t *testing.T, tp *testPool) {
			tp.Start()
		}, ExitUnready},
		{"closed", catLimits(2, 1), func(t *testing.T, tp *testPool) {
			tp.Start()
			waitFor(t, "the spare", 5*time.Second, func() bool { return tp.Stats().Spares == 1 })
			tp.Close()
		}, ExitClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tp := newTestPool(t, tt.cfg)
			tt.act(t, tp)
			waitFor(t, "an exit counted as "+tt.want.String(), 5*time.Second, func() bool {
				return tp.Stats().Exits[tt.want] >= 1
			})
			s := tp.Stats()
			for c := range NumExitCauses {
				if c != tt.want && s.Exits[c] != 0 {
					t.Errorf("Exits[%s] = %d, want 0 (%+v)", c, s.Exits[c], s)
				}
			}
			if s.Crashed != s.Exits[ExitCrashed] {
				t.Errorf("Crashed = %d, Exits[crashed] = %d: they are the same count", s.Crashed, s.Exits[ExitCrashed])
			}
		})
	}
}
