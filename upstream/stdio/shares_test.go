package stdio

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// userPID asks the shared process that serves user for its pid.
func userPID(t *testing.T, s *Upstream, user string) string {
	t.Helper()
	req := toolCall(t, "1", "pid", `{}`, "")
	req.User = user
	c := newCollector()
	if err := s.Call(context.Background(), req, c.deliver); err != nil {
		t.Fatalf("pid call for user %q: %v", user, err)
	}
	return resultText(t, c.msgs[0])
}

// holdSlow starts a slow call for user and returns once the server runs it;
// the call ends when the returned cancel is called.
func holdSlow(t *testing.T, s *Upstream, user string) (cancel func(), done <-chan error) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	req := toolCall(t, `"slow"`, "slow", `{"text":"`+user+`"}`, `"p"`)
	req.User = user
	started := make(chan struct{})
	var once sync.Once
	errc := make(chan error, 1)
	go func() {
		errc <- s.Call(ctx, req, func(*pipeline.Message, int) { once.Do(func() { close(started) }) })
	}()
	select {
	case <-started:
	case err := <-errc:
		stop()
		t.Fatalf("slow call for %q ended before it started: %v", user, err)
	case <-time.After(10 * time.Second):
		stop()
		t.Fatalf("slow call for %q did not start", user)
	}
	t.Cleanup(stop)
	return stop, errc
}

// waitLive waits (bounded) until the pool has n live processes.
func waitLive(t *testing.T, p *pool.Pool, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for p.Stats().Live != n {
		if time.Now().After(deadline) {
			t.Fatalf("want %d live processes within 10s, have %+v", n, p.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStdioSharesPerUser: each authenticated user's 2026 requests run on
// processes of that user's own (started on demand, from the same pool);
// requests without a user keep the anonymous share; a user's idle share is
// stopped after the idle timeout and started again on the next request.
func TestStdioSharesPerUser(t *testing.T) {
	s, p := newStatelessStdio(t, "gosdk", Options{Protocol: ProtocolModern, Shared: 1}, nil)
	// Long enough that alice's share outlives the spawns of bob's and the
	// anonymous one on a loaded machine, short enough to wait for below.
	s.shared.idle = 2 * time.Second

	anon := userPID(t, s, "")
	alice := userPID(t, s, "alice")
	bob := userPID(t, s, "bob")
	if anon == alice || alice == bob || anon == bob {
		t.Fatalf("users share a process: anonymous %s, alice %s, bob %s", anon, alice, bob)
	}
	if again := userPID(t, s, "alice"); again != alice {
		t.Fatalf("alice's second request ran on %s, not on her share's %s", again, alice)
	}
	if st := p.Stats(); st.Spawned != 3 {
		t.Fatalf("want one process per share, got %+v", st)
	}
	// Idle user shares are stopped; the anonymous one stays.
	waitLive(t, p, 1)
	if got := userPID(t, s, ""); got != anon {
		t.Fatalf("the anonymous share was stopped: %s, was %s", got, anon)
	}
	if got := userPID(t, s, "alice"); got == alice {
		t.Fatalf("alice's idle share was not stopped (same pid %s)", got)
	}
}

// TestStdioSharesBounded: a new user gets the busy answer when every user
// share allowed is in use, or when the pool is full of busy processes; an
// idle share of another user gives way instead.
func TestStdioSharesBounded(t *testing.T) {
	t.Run("users", func(t *testing.T) {
		s, _ := newStatelessStdio(t, "gosdk", Options{Protocol: ProtocolModern, Shared: 1}, nil)
		s.shared.maxUsers = 2
		stopA, _ := holdSlow(t, s, "alice")
		defer stopA()
		stopB, doneB := holdSlow(t, s, "bob")
		req := toolCall(t, "1", "pid", `{}`, "")
		req.User = "carol"
		err := s.Call(context.Background(), req, newCollector().deliver)
		var busy *upstream.BusyError
		if !errors.As(err, &busy) || busy.RetryAfter <= 0 {
			t.Fatalf("a third user with two busy shares: want a BusyError with a retry hint, got %v", err)
		}
		stopB()
		<-doneB
		// Bob's share is idle now: it gives way to carol's.
		userPID(t, s, "carol")
		s.shared.mu.Lock()
		_, bobHolds := s.shared.users["bob"]
		users := len(s.shared.users)
		s.shared.mu.Unlock()
		if bobHolds || users != 2 {
			t.Fatalf("want bob's idle share reclaimed for carol (2 shares), bob holds one: %v, shares %d", bobHolds, users)
		}
	})
	t.Run("pool", func(t *testing.T) {
		s, p := newStatelessStdio(t, "gosdk", Options{Protocol: ProtocolModern, Shared: 1}, nil) // max_processes 4
		stops := make([]func(), 0, 3)
		for _, u := range []string{"u1", "u2", "u3"} {
			stop, _ := holdSlow(t, s, u)
			stops = append(stops, stop)
		}
		idle := userPID(t, s, "idle") // the fourth process, then idle
		req := toolCall(t, "1", "pid", `{}`, "")
		req.User = "late"
		// The idle user's share gives way to the new user.
		c := newCollector()
		if err := s.Call(context.Background(), req, c.deliver); err != nil {
			t.Fatalf("a new user with one idle share in a full pool: %v", err)
		}
		if got := resultText(t, c.msgs[0]); got == idle {
			t.Fatalf("late user got the idle user's process %s", got)
		}
		// Now every process is busy or held: the next new user is told to retry.
		stop, _ := holdSlow(t, s, "late")
		stops = append(stops, stop)
		req = toolCall(t, "1", "pid", `{}`, "")
		req.User = "another"
		err := s.Call(context.Background(), req, newCollector().deliver)
		if !errors.Is(err, upstream.ErrBusy) {
			t.Fatalf("a new user in a pool of busy processes: want ErrBusy, got %v (%+v)", err, p.Stats())
		}
		for _, stop := range stops {
			stop()
		}
	})
}

// TestStdioListensTakeNoSlot: open subscriptions/listen streams do not
// count toward a shared process's in-flight limit: more listens than the
// limit stay open, and calls still run beside them on the same process.
func TestStdioListensTakeNoSlot(t *testing.T) {
	s, p := newStatelessStdio(t, "gosdk", Options{Protocol: ProtocolModern, Shared: 1, MaxInFlight: 2}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	const listens = 3
	done := make(chan error, listens)
	for i := range listens {
		listen := &upstream.StatelessRequest{Message: mustParse(t,
			`{"jsonrpc":"2.0","id":`+string(rune('0'+i))+`,"method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true},"_meta":{`+testMeta+`}}}`)}
		c := newCollector()
		go func() { done <- s.Call(ctx, listen, c.deliver) }()
		if ack := c.next(t); ack.Method != "notifications/subscriptions/acknowledged" {
			t.Fatalf("listen %d: want the ack, got %s", i, ack.Raw)
		}
	}
	for i := range 2 {
		c := newCollector()
		if err := s.Call(context.Background(), toolCall(t, "1", "echo", `{"text":"beside"}`, ""), c.deliver); err != nil || resultText(t, c.msgs[0]) != "beside" {
			t.Fatalf("call %d beside %d listens: %v %v", i, listens, err, c.msgs)
		}
	}
	if st := p.Stats(); st.Spawned != 1 {
		t.Fatalf("want everything on the one shared process, got %+v", st)
	}
	cancel()
	for range listens {
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("listen ended with %v", err)
		}
	}
}
