package stdio

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pool"
)

// TestStdioSetLive: SetLive changes what a reload may change, and refuses
// bad values and a change of protocol, keeping the settings in force.
func TestStdioSetLive(t *testing.T) {
	p, err := pool.New(pool.Config{Command: "cat", Warm: pool.NoWarm})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s, err := NewWithOptions(p, 1000, nil, Options{Protocol: ProtocolModern})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	tests := []struct {
		name    string
		opts    Options
		size    int
		wantErr string
	}{
		{"tuned", Options{Protocol: ProtocolModern, ProbeTimeout: time.Second, Shared: 5, MaxInFlight: 7}, 2000, ""},
		{"protocol", Options{Protocol: ProtocolLegacy, Shared: 1}, 3000, "protocol of a running stdio upstream cannot change"},
		{"negative shared", Options{Protocol: ProtocolModern, Shared: -2}, 3000, "shared must be"},
		{"no message size", Options{Protocol: ProtocolModern, Shared: 1}, 0, "message size bound must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.current()
			err := s.SetLive(tt.opts, tt.size)
			got := s.current()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("SetLive: %v", err)
				}
				if got.opts != tt.opts || got.maxMessageSize != tt.size {
					t.Fatalf("in force after SetLive: %+v, want %+v and %d", got, tt.opts, tt.size)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("SetLive = %v, want an error with %q", err, tt.wantErr)
			}
			if got != before {
				t.Fatalf("a refused SetLive changed the settings: %+v, was %+v", got, before)
			}
		})
	}
}

// TestStdioSetLiveSharedAdmitsWaiter: a 2026-07-28 request waiting for room
// on the shared processes proceeds on a new one as soon as SetLive raises
// Shared, with a real go-sdk server.
func TestStdioSetLiveSharedAdmitsWaiter(t *testing.T) {
	opts := Options{Protocol: ProtocolModern, Shared: 1, MaxInFlight: 1}
	s, p := newStatelessStdio(t, "gosdk", opts, nil)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	var once sync.Once
	slow := make(chan error, 1)
	go func() {
		slow <- s.Call(ctx, toolCall(t, "1", "slow", `{"text":"busy"}`, `"p"`), func(*pipeline.Message, int) {
			once.Do(func() { close(started) })
		})
	}()
	select {
	case <-started:
	case err := <-slow:
		t.Fatalf("the slow call ended early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the slow call did not start within 10s")
	}

	c := newCollector()
	waiting := make(chan error, 1)
	go func() {
		waiting <- s.Call(context.Background(), toolCall(t, "2", "echo", `{"text":"admitted"}`, ""), c.deliver)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.shared.mu.Lock()
		n := s.shared.anon.waiting
		s.shared.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second call is not waiting for room")
		}
		time.Sleep(5 * time.Millisecond)
	}

	opts.Shared = 2
	if err := s.SetLive(opts, 1<<20); err != nil {
		t.Fatalf("SetLive: %v", err)
	}
	select {
	case err := <-waiting:
		if err != nil {
			t.Fatalf("the waiting call after raising shared: %v", err)
		}
		if got := resultText(t, c.msgs[0]); got != "admitted" {
			t.Fatalf("answer %q", got)
		}
	case <-time.After(4 * time.Second): // below its own 5s wait for room
		t.Fatal("raising shared did not admit the waiting call")
	}
	if st := p.Stats(); st.Spawned != 2 {
		t.Errorf("want a second shared process, got %+v", st)
	}
	cancel()
	if err := <-slow; !errors.Is(err, context.Canceled) {
		t.Errorf("slow call: %v", err)
	}
}
