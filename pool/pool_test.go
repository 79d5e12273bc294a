//go:build unix

package pool

import (
	"bufio"
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewSpawnsNothing(t *testing.T) {
	t.Parallel()
	tp := newTestPool(t, Config{Command: "cat", Warm: 2})
	time.Sleep(100 * time.Millisecond)
	if s := tp.Stats(); s != (Stats{}) {
		t.Errorf("stats before Start = %+v", s)
	}
}

// TestAcquireWaitsForSlot: at the limit Acquire waits, and wakes as soon as
// a released process has been reaped.
func TestAcquireWaitsForSlot(t *testing.T) {
	t.Parallel()
	tp := newTestPool(t, Config{Command: "cat", MaxProcesses: 1, Warm: NoWarm, AcquireTimeout: 10 * time.Second})
	a := tp.acquire(t)

	got := make(chan *Process, 1)
	go func() {
		pr, err := tp.Acquire(context.Background())
		if err != nil {
			t.Errorf("second Acquire: %v", err)
		}
		got <- pr
	}()
	waitFor(t, "a waiter", 2*time.Second, func() bool { return tp.Stats().Waiting == 1 })
	select {
	case <-got:
		t.Fatal("Acquire returned while the only slot was busy")
	case <-time.After(100 * time.Millisecond):
	}

	released := time.Now()
	a.Release()
	select {
	case b := <-got:
		if d := time.Since(released); d > time.Second {
			t.Errorf("waiter woke %s after the release", d)
		}
		if b == nil || b.PID() == a.PID() {
			t.Fatalf("got %v", b)
		}
		if s := tp.Stats(); s.Live != 1 || s.Assigned != 1 || s.Waiting != 0 {
			t.Errorf("stats = %+v", s)
		}
		b.Release()
	case <-time.After(5 * time.Second):
		t.Fatal("waiter not woken by the release")
	}
}

// TestAcquireFull: a wait that ends (timeout or context) fails with ErrFull
// and a Retry-After hint.
func TestAcquireFull(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		acquire   time.Duration
		ctx       time.Duration // 0: no deadline
		wantCause error
		minWait   time.Duration
	}{
		{"acquire timeout", 200 * time.Millisecond, 0, nil, 200 * time.Millisecond},
		{"context deadline", 10 * time.Second, 150 * time.Millisecond, context.DeadlineExceeded, 150 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tp := newTestPool(t, Config{Command: "cat", MaxProcesses: 1, Warm: NoWarm, AcquireTimeout: tt.acquire})
			a := tp.acquire(t)
			defer a.Release()
			ctx := context.Background()
			if tt.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctx)
				defer cancel()
			}
			start := time.Now()
			pr, err := tp.Acquire(ctx)
			d := time.Since(start)
			if pr != nil || !errors.Is(err, ErrFull) {
				t.Fatalf("Acquire = %v, %v; want ErrFull", pr, err)
			}
			if tt.wantCause != nil && !errors.Is(err, tt.wantCause) {
				t.Errorf("error %v does not wrap %v", err, tt.wantCause)
			}
			if d < tt.minWait || d > tt.minWait+time.Second {
				t.Errorf("Acquire waited %s, want about %s", d, tt.minWait)
			}
			if ra, ok := RetryAfter(err); !ok || ra < time.Second {
				t.Errorf("RetryAfter = %s, %v", ra, ok)
			}
			if s := tp.Stats(); s.Waiting != 0 || s.Live != 1 {
				t.Errorf("stats = %+v", s)
			}
		})
	}
}

func TestAcquireCanceledContext(t *testing.T) {
	t.Parallel()
	tp := newTestPool(t, Config{Command: "cat", Warm: NoWarm})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if pr, err := tp.Acquire(ctx); pr != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire = %v, %v", pr, err)
	}
	if s := tp.Stats(); s.Spawned != 0 {
		t.Errorf("spawned for a canceled context: %+v", s)
	}
}

// TestClose: Close stops the spares and refuses Acquire, while assigned
// processes keep running until released; Wait covers them.
func TestClose(t *testing.T) {
	t.Parallel()
	tp := newTestPool(t, Config{Command: "cat", MaxProcesses: 3, Warm: 1})
	tp.Start()
	a, b := tp.acquire(t), tp.acquire(t)
	waitFor(t, "a spare", 2*time.Second, func() bool { return tp.Stats().Spares == 1 })
	tp.mu.Lock()
	spare := tp.spares[0] // test-only peek
	tp.mu.Unlock()

	tp.Close()
	tp.Close() // idempotent
	if _, err := tp.Acquire(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Acquire after Close = %v, want ErrClosed", err)
	}
	tp.Start() // no effect after Close
	waitDone(t, spare, 2*time.Second)

	waited := make(chan struct{})
	go func() { tp.Wait(); close(waited) }()
	// Assigned processes still work.
	for _, pr := range []*Process{a, b} {
		r := bufio.NewReader(pr.Stdout())
		if _, err := io.WriteString(pr.Stdin(), "still here\n"); err != nil {
			t.Fatal(err)
		}
		if got := readLine(t, r); got != "still here" {
			t.Errorf("got %q", got)
		}
	}
	select {
	case <-waited:
		t.Fatal("Wait returned while processes were still assigned")
	case <-time.After(100 * time.Millisecond):
	}
	if s := tp.Stats(); s.Live != 2 || s.Assigned != 2 || s.Spares != 0 || s.Crashed != 0 {
		t.Errorf("stats while draining = %+v", s)
	}
	a.Release()
	b.Release()
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after the last release")
	}
	if s := tp.Stats(); s.Live != 0 || s.Assigned != 0 || s.Spares != 0 {
		t.Errorf("stats after Wait = %+v", s)
	}
	tp.checkAllGone(t)
}

// TestCloseWakesWaiter: an Acquire waiting at the limit returns ErrClosed as
// soon as the pool closes.
func TestCloseWakesWaiter(t *testing.T) {
	t.Parallel()
	tp := newTestPool(t, Config{Command: "cat", MaxProcesses: 1, Warm: NoWarm, AcquireTimeout: 10 * time.Second})
	a := tp.acquire(t)
	defer a.Release()
	waiterErr := make(chan error, 1)
	go func() { _, err := tp.Acquire(context.Background()); waiterErr <- err }()
	waitFor(t, "a waiter", 2*time.Second, func() bool { return tp.Stats().Waiting == 1 })
	tp.Close()
	select {
	case err := <-waiterErr:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("waiter got %v, want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not wake the waiter")
	}
}

// TestAcquireRelease200 runs 200 short sessions from more goroutines than
// the pool has slots: the limit holds, every session works, nothing is left.
func TestAcquireRelease200(t *testing.T) {
	t.Parallel()
	const (
		maxProcs = 6
		workers  = 10
		sessions = 200
	)
	tp := newTestPool(t, Config{Command: "cat", MaxProcesses: maxProcs, Warm: 2, AcquireTimeout: 20 * time.Second})
	tp.Start()

	var (
		next     atomic.Int32
		assigned atomic.Int32
		peak     atomic.Int32
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= sessions {
				pr, err := tp.Acquire(context.Background())
				if err != nil {
					t.Errorf("Acquire: %v", err)
					return
				}
				n := assigned.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				if s := tp.Stats(); s.Live > maxProcs {
					t.Errorf("Live %d above MaxProcesses", s.Live)
				}
				if _, err := io.WriteString(pr.Stdin(), "x\n"); err != nil {
					t.Errorf("write: %v", err)
				}
				if line, err := bufio.NewReader(pr.Stdout()).ReadString('\n'); err != nil || line != "x\n" {
					t.Errorf("read %q, %v", line, err)
				}
				assigned.Add(-1)
				pr.Release()
			}
		})
	}
	wg.Wait()
	tp.Close()
	waitOrFail(t, tp.Wait, 10*time.Second, "Wait")
	if n := len(tp.pids()); n < sessions {
		t.Errorf("only %d processes started for %d sessions", n, sessions)
	}
	if p := peak.Load(); p > maxProcs {
		t.Errorf("%d processes assigned at once, limit %d", p, maxProcs)
	}
	if s := tp.Stats(); s.Live != 0 || s.Assigned != 0 || s.Crashed != 0 {
		t.Errorf("stats = %+v", s)
	}
	tp.checkAllGone(t)
}
