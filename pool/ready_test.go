//go:build unix

package pool

import (
	"bufio"
	"io"
	"sync/atomic"
	"testing"
	"time"
)

// pingPong is a Ready check for the shell children below: it writes "ping"
// and reads, a byte at a time, up to and including a "pong" line.
func pingPong(calls *atomic.Int32) func(io.Writer, io.Reader) error {
	return func(w io.Writer, r io.Reader) error {
		calls.Add(1)
		if _, err := io.WriteString(w, "ping\n"); err != nil {
			return err
		}
		var line []byte
		b := make([]byte, 1)
		for {
			if _, err := r.Read(b); err != nil {
				return err
			}
			if b[0] != '\n' {
				line = append(line, b[0])
				continue
			}
			if string(line) == "pong" {
				return nil
			}
			line = line[:0]
		}
	}
}

// warmingPool starts a pool of one spare running script under /bin/sh with
// the pingPong check, and returns once that spare is warming.
func warmingPool(t *testing.T, script string, maxProcesses int) (*testPool, *atomic.Int32) {
	t.Helper()
	calls := new(atomic.Int32)
	tp := newTestPool(t, Config{Command: "/bin/sh", Args: []string{"-c", script}, MaxProcesses: maxProcesses, Warm: 1,
		Ready: pingPong(calls)})
	tp.Start()
	waitFor(t, "the spare warming", 2*time.Second, func() bool { return tp.Stats().Warming == 1 })
	return tp, calls
}

// TestSpareReadyCheck: a new spare is handed out only once its Ready check
// passed; the check reads no further than the answer, so the session sees
// the process's output from there on.
func TestSpareReadyCheck(t *testing.T) {
	t.Parallel()
	// Answers the check after 300ms (a server still loading), then echoes.
	tp, calls := warmingPool(t, "read l; sleep 0.3; echo booting; echo pong; exec cat", 2)
	if s := tp.Stats(); s.Spares != 0 {
		t.Fatalf("a spare is offered before its check passed: %+v", s)
	}
	waitFor(t, "the spare ready", 5*time.Second, func() bool { return tp.Stats().Spares == 1 })
	if s := tp.Stats(); s.Warming != 0 || s.Spawned != 1 || calls.Load() != 1 {
		t.Fatalf("after the check: %+v, %d checks", s, calls.Load())
	}
	pr := tp.acquire(t)
	defer pr.Release()
	if _, err := pr.Stdin().Write([]byte("initialize\n")); err != nil {
		t.Fatal(err)
	}
	if got := readLine(t, bufio.NewReader(pr.Stdout())); got != "initialize" {
		t.Errorf("the session read %q first, want its own echo (the check must consume only its answer)", got)
	}
}

// TestSpareReadyTimeout: a server that does not answer the check in time is
// taken not to answer before initialize: that spare is stopped and the next
// one is used unchecked.
func TestSpareReadyTimeout(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	cfg := Config{Command: "cat", MaxProcesses: 2, Warm: 1, ReadyTimeout: 200 * time.Millisecond, Ready: pingPong(&calls)}
	tp := newTestPool(t, cfg)
	tp.Start()
	waitFor(t, "an unchecked spare", 5*time.Second, func() bool { return tp.Stats().Spares == 1 })
	s := tp.Stats()
	if calls.Load() != 1 || s.Spawned != 2 {
		t.Errorf("%d checks, %d spawned; want one check (timed out) and a second, unchecked spare", calls.Load(), s.Spawned)
	}
	first := tp.pids()[0]
	waitFor(t, "the unanswering spare stopped", 5*time.Second, func() bool { return gone(first) })
}

// TestSpareReadyFails: a check that fails (here: the server exits) stops the
// spare and backs off before the next.
func TestSpareReadyFails(t *testing.T) {
	t.Parallel()
	tp := newTestPool(t, Config{Command: "/bin/sh", Args: []string{"-c", "read l; echo nope"}, MaxProcesses: 2, Warm: 1,
		Ready: pingPong(new(atomic.Int32))})
	tp.Start()
	time.Sleep(500 * time.Millisecond)
	s := tp.Stats()
	if s.Spares != 0 {
		t.Errorf("a spare that failed its check is offered: %+v", s)
	}
	// 100ms, then 200ms, 400ms…: a few attempts in 500ms, not hundreds.
	if s.Spawned < 1 || s.Spawned > 5 {
		t.Errorf("spawned %d spares in 500ms; want a backoff between failed checks", s.Spawned)
	}
}

// TestAcquireTakesWarmingSpare: with no ready spare, Acquire takes the one
// still warming instead of starting another process; the session writes at
// once, and its reads wait until the check has read the answer to its ping.
func TestAcquireTakesWarmingSpare(t *testing.T) {
	t.Parallel()
	tp, _ := warmingPool(t, "read l; sleep 0.4; echo pong; exec cat", 3)
	pr := tp.acquire(t)
	defer pr.Release()
	if s := tp.Stats(); s.Spawned != 1 || s.Warming != 0 || s.Assigned != 1 {
		t.Fatalf("after Acquire: %+v; want the warming spare taken, no other process", s)
	}
	if _, err := pr.Stdin().Write([]byte("initialize\n")); err != nil {
		t.Fatal(err)
	}
	if got := readLine(t, bufio.NewReader(pr.Stdout())); got != "initialize" {
		t.Errorf("the session read %q first, want its own echo after the check's pong", got)
	}
	// Its replacement comes once it answered the session.
	waitFor(t, "the replacement", 5*time.Second, func() bool { return tp.Stats().Spares == 1 })
}

// TestWarmingSpareAnswersOutOfOrder: a server may answer requests out of
// order (the go-sdk handles calls concurrently). A session that took a spare
// still warming must not reach the server before the check's ping was
// answered, or the check would swallow the session's answer.
func TestWarmingSpareAnswersOutOfOrder(t *testing.T) {
	t.Parallel()
	// The ping's answer comes 300ms late; any later line is answered at once.
	tp, _ := warmingPool(t, `read l; (sleep 0.3; echo pong) & while read l; do echo "$l"; done`, 3)
	pr := tp.acquire(t)
	defer pr.Release()
	if _, err := pr.Stdin().Write([]byte("initialize\n")); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(pr.Stdout()).ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if line != "initialize\n" {
			t.Errorf("the session read %q, want the answer to its own line", line)
		}
	case <-time.After(3 * time.Second):
		t.Error("the session's answer never came: the readiness check swallowed it")
		pr.Release() // ends the read
		<-got
	}
}
