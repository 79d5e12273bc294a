package stdio

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// The server modes of the era tests, run by the test binary as a child
// before TestMain (whose switch lives with the stdio tests).
func init() {
	switch os.Getenv(serverModeEnv) {
	case "silent-first":
		// The first process started (no marker file yet) reads everything
		// and answers nothing; later ones are the go-sdk server.
		path := os.Getenv(markerEnv)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			_ = os.WriteFile(path, []byte("silent\n"), 0o600)
			_, _ = io.Copy(io.Discard, os.Stdin)
			os.Exit(0)
		}
		runGoSDKServer(nil)
	}
}

// newProbeStdio is a Upstream with Protocol auto whose pool runs command.
func newProbeStdio(t *testing.T, cfg pool.Config, opts Options) (*Upstream, *pool.Pool) {
	t.Helper()
	cfg.MaxProcesses = 4
	cfg.StopTimeout = 500 * time.Millisecond
	cfg.AcquireTimeout = 2 * time.Second
	if cfg.Warm == 0 {
		cfg.Warm = pool.NoWarm
	}
	p, err := pool.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	return upstreamOn(t, p, opts), p
}

// TestStdioEraSlowStart: a server that takes a second to load before it
// reads stdin (a real go-sdk server behind `sleep 1`) is found modern with
// a probe timeout far shorter than its start: the probe waits for its
// readiness first. Both a cold spawn and a spare still warming (with the
// pool's ping check) are probed that way.
func TestStdioEraSlowStart(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		warm int
	}{
		{"cold spawn", pool.NoWarm},
		{"warming spare", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := pool.Config{
				Command: "/bin/sh",
				Args:    []string{"-c", `sleep 1; exec "$0"`, self},
				Env:     map[string]string{serverModeEnv: "gosdk"},
				Warm:    tc.warm,
			}
			if tc.warm > 0 {
				cfg.Ready = PingReady(1 << 20)
			}
			s, _ := newProbeStdio(t, cfg, Options{ProbeTimeout: 300 * time.Millisecond})
			era, err := s.Era(context.Background())
			if err != nil || era != EraModern {
				t.Fatalf("a slow-starting 2026 server: era %q, err %v; want modern", era, err)
			}
		})
	}
}

// TestStdioEraRetriesTimedOutProbe: a probe that got no answer in time
// counts as legacy only until its backoff passed; the retry, started by the
// next call in the background, finds the server modern, and that is
// remembered. A definite answer is never probed again.
func TestStdioEraRetriesTimedOutProbe(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "probed")
	s, p := newProbeStdio(t, pool.Config{
		Command: self,
		Env:     map[string]string{serverModeEnv: "silent-first", markerEnv: marker},
	}, Options{ProbeTimeout: 300 * time.Millisecond})
	s.era.readyWait = 300 * time.Millisecond

	if era, err := s.Era(context.Background()); err != nil || era != EraLegacy {
		t.Fatalf("first probe on a silent server: era %q, err %v; want legacy for now", era, err)
	}
	if err := s.Call(context.Background(), toolCall(t, "1", "echo", `{"text":"x"}`, ""), newCollector().deliver); !errors.Is(err, upstream.ErrSessionfulOnly) {
		t.Fatalf("Call during the backoff: want ErrSessionfulOnly, got %v", err)
	}
	if st := p.Stats(); st.Spawned != 1 {
		t.Fatalf("no retry before the backoff passed: %+v", st)
	}
	// The retry's process answers; bounds short enough for the first
	// probe to time out could cut its start-up short on a loaded machine.
	if err := s.SetLive(Options{ProbeTimeout: 10 * time.Second}, 1<<20); err != nil {
		t.Fatal(err)
	}
	s.era.mu.Lock()
	backoff := s.era.backoff
	s.era.readyWait = 10 * time.Second
	s.era.retryAt = time.Now() // the backoff has passed
	s.era.mu.Unlock()
	if backoff != probeRetryFirst {
		t.Fatalf("first backoff %s, want %s", backoff, probeRetryFirst)
	}

	// The call that finds the backoff over starts the retry and is not held up.
	if era, err := s.Era(context.Background()); err != nil || era != EraLegacy {
		t.Fatalf("call that starts the retry: era %q, err %v; want legacy meanwhile", era, err)
	}
	s.era.mu.Lock()
	probing := s.era.probing
	s.era.mu.Unlock()
	if probing == nil {
		t.Fatal("no retry probe started after the backoff")
	}
	select {
	case <-probing:
	case <-time.After(10 * time.Second):
		t.Fatal("the retry probe did not end within 10s")
	}
	if era, err := s.Era(context.Background()); err != nil || era != EraModern {
		t.Fatalf("after the retry: era %q, err %v; want modern", era, err)
	}
	c := newCollector()
	if err := s.Call(context.Background(), toolCall(t, "1", "echo", `{"text":"now"}`, ""), c.deliver); err != nil || resultText(t, c.msgs[0]) != "now" {
		t.Fatalf("Call after the retry: %v %v", err, c.msgs)
	}
	// A definite answer stays: moving the clock on probes nothing.
	s.era.mu.Lock()
	s.era.retryAt = time.Now()
	s.era.mu.Unlock()
	if era, _ := s.Era(context.Background()); era != EraModern {
		t.Fatalf("definite era not remembered: %s", era)
	}
	if st := p.Stats(); st.Spawned != 3 {
		t.Fatalf("want two probe processes and one shared process, got %+v", st)
	}
}
