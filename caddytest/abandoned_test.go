package caddytest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// abandonedSessions is more sessions than the default max_processes (16)
// of a stdio block.
const abandonedSessions = 24

// TestAbandonedSessionsGiveWay: go-sdk clients that never end their
// sessions (a crashed IDE, an agent that reconnects with a new session) open
// more sessions than a default stdio block has processes. Every one of them
// gets a session — each new one takes the process of the least recently
// used idle session — and a client that comes back to an evicted session is
// told with a 404 (the go-sdk reports mcp.ErrSessionMissing) so it can
// initialize again. Default settings: the point is what users get.
func TestAbandonedSessionsGiveWay(t *testing.T) {
	requireIntegration(t)
	url := startProxy(t, stdioProxySite(buildEverythingServer(t))) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	sessions := make([]*mcp.ClientSession, 0, abandonedSessions)
	defer func() {
		for _, cs := range sessions {
			_ = cs.Close()
		}
	}()
	// The time to connect, with a process free and with one to take back,
	// for the log: what an eviction costs a new session.
	var free, evicting time.Duration
	for i := range abandonedSessions {
		began := time.Now()
		cs, err := connectAbandonable(ctx, url)
		if err != nil {
			t.Fatalf("session %d of %d: %v", i+1, abandonedSessions, err)
		}
		if took := time.Since(began); i < 14 {
			free += took
		} else if i >= 16 {
			evicting += took
		}
		sessions = append(sessions, cs)
		if got := callSimpleText(ctx, cs); got != nil {
			t.Fatalf("session %d: tools/call: %v", i+1, got)
		}
	}

	t.Logf("initialize + initialized: %v on average with a process free (sessions 1-14), %v when an idle session's process is taken back (17-%d)",
		(free / 14).Round(10*time.Microsecond), (evicting / (abandonedSessions - 16)).Round(10*time.Microsecond), abandonedSessions)

	// The newest sessions live on; the oldest gave way.
	if err := callSimpleText(ctx, sessions[len(sessions)-1]); err != nil {
		t.Errorf("the newest session: %v", err)
	}
	err := callSimpleText(ctx, sessions[0])
	if !errors.Is(err, mcp.ErrSessionMissing) {
		t.Errorf("the oldest session was not ended for the newer ones: tools/call = %v, want mcp.ErrSessionMissing", err)
	}

	// Its client starts over.
	again, err := connectAbandonable(ctx, url)
	if err != nil {
		t.Fatalf("re-initialize after eviction: %v", err)
	}
	sessions = append(sessions, again)
	if err := callSimpleText(ctx, again); err != nil {
		t.Errorf("the re-initialized session: %v", err)
	}
}

// TestBusySessionsAreKept: when every process of a default stdio block
// serves a session whose client listens on its GET stream, no session is
// taken from under its client: a new one gets 503 with Retry-After.
func TestBusySessionsAreKept(t *testing.T) {
	requireIntegration(t)
	url := startProxy(t, stdioProxySite(buildEverythingServer(t))) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var listening []*mcp.ClientSession
	defer func() {
		for _, cs := range listening {
			_ = cs.Close()
		}
	}()
	// Standalone GET streams on: each client listens, so each session is busy.
	for i := 0; ; i++ {
		streamOpen := &getWatcher{base: http.DefaultTransport.(*http.Transport).Clone(), open: make(chan struct{})}
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "caddytest-listener", Version: "0"}, nil).Connect(ctx,
			&mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: streamOpen}},
			&mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
		if err == nil {
			// The client opens its GET stream in the background: wait for it,
			// or the session would still count as idle.
			select {
			case <-streamOpen.open:
			case <-ctx.Done():
				t.Fatalf("session %d never opened its GET stream", i+1)
			}
		}
		if err != nil {
			if !strings.Contains(err.Error(), "Service Unavailable") {
				t.Fatalf("session %d was refused, but not as busy: %v", i+1, err)
			}
			if i < 14 {
				t.Errorf("refused after only %d sessions", i)
			}
			break
		}
		listening = append(listening, cs)
		if i > 16 {
			t.Fatalf("%d listening sessions on 16 processes: a busy session must have been taken", len(listening))
		}
	}

	// The refusal on the wire: 503, Retry-After, a message that says why.
	resp, body := mcpPost(t, http.DefaultClient, url, "", initializeBodyAt("2025-11-25"))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("initialize with every session busy: %d, Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if !strings.Contains(body, "max_processes") {
		t.Errorf("the refusal does not name the bound: %s", body)
	}
	for i, cs := range listening {
		if err := callSimpleText(ctx, cs); err != nil {
			t.Errorf("listening session %d lost: %v", i+1, err)
		}
	}
}

// getWatcher is an http.RoundTripper that closes open once a GET is
// answered 200: the go-sdk client's standalone stream is open.
type getWatcher struct {
	base http.RoundTripper
	open chan struct{}
	once sync.Once
}

// RoundTrip implements http.RoundTripper.
func (g *getWatcher) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := g.base.RoundTrip(req)
	if err == nil && req.Method == http.MethodGet && resp.StatusCode == http.StatusOK {
		g.once.Do(func() { close(g.open) })
	}
	return resp, err
}
