//go:build unix

package pool

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// echoIgnoringEOF echoes lines and ignores stdin EOF, so its stop takes
// StopTimeout and then a SIGTERM: a slot that stays "stopping" a while.
const echoIgnoringEOF = `while :; do if read l; then echo "$l"; else sleep 0.05; fi; done`

// TestAcquireReclaim: on a full pool Acquire asks its caller to give a
// process back when no slot is on its way for it, takes the freed slot, and
// does not ask again for the same slot.
func TestAcquireReclaim(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// releaseFirst releases the busy process before Acquire: its slot
		// is already stopping, on its way to the Acquire
		releaseFirst bool
		// give: reclaim releases the busy process and says so; else it
		// releases nothing and says so
		give      bool
		acquire   time.Duration
		wantCalls int32
		wantFull  bool
	}{
		{"reclaim frees the slot", false, true, 10 * time.Second, 1, false},
		{"a slot already stopping", true, true, 10 * time.Second, 0, false},
		{"nothing to give", false, false, 500 * time.Millisecond, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := shell(echoIgnoringEOF)
			cfg.MaxProcesses, cfg.StopTimeout, cfg.AcquireTimeout = 1, time.Second, tt.acquire
			tp := newTestPool(t, cfg)
			busy := tp.acquire(t)
			defer busy.Release()
			talk(t, busy, "busy")
			if tt.releaseFirst {
				busy.Release()
				if s := tp.Stats(); s.Stopping != 1 || s.Live != 1 {
					t.Fatalf("after Release: %+v, want one process stopping", s)
				}
			}

			var calls atomic.Int32
			ctx := WithReclaim(context.Background(), func() bool {
				calls.Add(1)
				if s := tp.Stats(); s.Waiting != 1 || s.Stopping != 0 {
					t.Errorf("reclaim called with %+v, want one waiter and nothing stopping", s)
				}
				if tt.give {
					busy.Release()
				}
				return tt.give
			})
			pr, err := tp.Acquire(ctx)
			if tt.wantFull {
				if !errors.Is(err, ErrFull) {
					t.Fatalf("Acquire = %v, want ErrFull after the acquire timeout", err)
				}
				talk(t, busy, "still busy") // nothing was taken from it
			} else {
				if err != nil {
					t.Fatalf("Acquire: %v", err)
				}
				defer pr.Release()
				if pr.PID() == busy.PID() {
					t.Fatal("got the busy process back")
				}
				talk(t, pr, "fresh")
				waitDone(t, busy, 5*time.Second)
			}
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("reclaim called %d times, want %d", got, tt.wantCalls)
			}
			if s := tp.Stats(); s.Live != 1 || s.Stopping != 0 || s.Waiting != 0 {
				t.Errorf("stats after Acquire = %+v", s)
			}
		})
	}
}

// TestAcquireReclaimOnePerWaiter: two Acquires waiting on a full pool of two
// ask for two slots in all, not more, whatever the order they run in.
func TestAcquireReclaimOnePerWaiter(t *testing.T) {
	t.Parallel()
	cfg := Config{Command: "cat", MaxProcesses: 2, Warm: NoWarm, AcquireTimeout: 10 * time.Second}
	tp := newTestPool(t, cfg)
	idle := make(chan *Process, 2)
	idle <- tp.acquire(t)
	idle <- tp.acquire(t)
	var calls atomic.Int32
	reclaim := func() bool {
		calls.Add(1)
		select {
		case pr := <-idle:
			pr.Release()
			return true
		default:
			return false
		}
	}
	got := make(chan *Process, 2)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			pr, err := tp.Acquire(WithReclaim(context.Background(), reclaim))
			if err != nil {
				errs <- err
				return
			}
			got <- pr
		}()
	}
	for range 2 {
		select {
		case pr := <-got:
			defer pr.Release()
			talk(t, pr, "mine")
		case err := <-errs:
			t.Fatalf("Acquire: %v", err)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("reclaim called %d times for two waiters, want 2", n)
	}
}
