package caddytest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Two clients of one gateway, told apart by their addresses (Caddy's
// client_ip, which max_sessions_per_client and the fair share of
// max_processes count by): each dials from a loopback address of its own.
const (
	clientA = "127.0.0.2"
	clientB = "127.0.0.3"
)

// transportFrom returns an HTTP transport whose connections come from ip.
func transportFrom(ip string) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}).DialContext
	return tr
}

// connectFrom opens a 2025-11-25 session from ip; listen says whether the
// client opens its standalone GET stream, and then connectFrom returns
// once that stream is open.
func connectFrom(ctx context.Context, url, ip string, listen bool) (*mcp.ClientSession, error) {
	streamOpen := &getWatcher{base: transportFrom(ip), open: make(chan struct{})}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "caddytest-fair-" + ip, Version: "0"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: streamOpen}, DisableStandaloneSSE: !listen},
		&mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil || !listen {
		return cs, err
	}
	select {
	case <-streamOpen.open:
		return cs, nil
	case <-ctx.Done():
		_ = cs.Close()
		return nil, ctx.Err()
	}
}

// TestOneClientCannotLockOthersOut: with the default block, one client
// holding every process of the pool with sessions it listens on (each
// with its GET stream open) no longer locks other clients out: it holds
// more than its fair share (16 processes between 2 clients), so its least
// recently used session gives way to the other client's initialize, and
// only that one.
func TestOneClientCannotLockOthersOut(t *testing.T) {
	requireIntegration(t)
	url := startProxy(t, stdioProxySite(buildEverythingServer(t))) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var sessions []*mcp.ClientSession
	defer func() {
		for _, cs := range sessions {
			_ = cs.Close()
		}
	}()
	for i := range 16 {
		cs, err := connectFrom(ctx, url, clientA, true)
		if err != nil {
			t.Fatalf("client A's listening session %d of 16: %v", i+1, err)
		}
		sessions = append(sessions, cs)
	}

	other, err := connectFrom(ctx, url, clientB, false)
	if err != nil {
		t.Fatalf("client B's initialize while client A listens on 16 sessions: %v", err)
	}
	sessions = append(sessions, other)
	if err := callSimpleText(ctx, other); err != nil {
		t.Errorf("client B's session: %v", err)
	}

	// Exactly one of A's sessions ended for B's, and A is told with a 404.
	gone := 0
	for i, cs := range sessions[:16] {
		switch err := callSimpleText(ctx, cs); {
		case errors.Is(err, mcp.ErrSessionMissing):
			gone++
		case err != nil:
			t.Errorf("client A's session %d: %v", i+1, err)
		}
	}
	if gone != 1 {
		t.Errorf("%d of client A's sessions ended for client B's one, want 1", gone)
	}
}

// TestBurstEndsNoOtherClientsSessions: with the default block, one client's
// burst of 20 initializes ends none of another client's sessions: those
// hold less than their fair share, and the burst's own sessions are spared
// through their handshake, so the burst's excess is refused (503 with
// Retry-After) instead.
func TestBurstEndsNoOtherClientsSessions(t *testing.T) {
	requireIntegration(t)
	url := startProxy(t, stdioProxySite(buildEverythingServer(t))) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var (
		mu       sync.Mutex
		sessions []*mcp.ClientSession
	)
	defer func() {
		for _, cs := range sessions {
			_ = cs.Close()
		}
	}()
	// B's sessions, idle (no GET stream), older than anything of A's: the
	// least recently used of all.
	var bs []*mcp.ClientSession
	for i := range 2 {
		cs, err := connectFrom(ctx, url, clientB, false)
		if err != nil {
			t.Fatalf("client B's session %d: %v", i+1, err)
		}
		sessions = append(sessions, cs)
		bs = append(bs, cs)
		if err := callSimpleText(ctx, cs); err != nil {
			t.Fatalf("client B's session %d: %v", i+1, err)
		}
	}

	var (
		wg      sync.WaitGroup
		opened  int
		refused []string
	)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs, err := connectFrom(ctx, url, clientA, false)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				refused = append(refused, err.Error())
				return
			}
			opened++
			sessions = append(sessions, cs)
		}()
	}
	wg.Wait()
	t.Logf("client A's burst of 20: %d sessions, %d refused", opened, len(refused))
	for _, msg := range refused {
		if !strings.Contains(msg, "Service Unavailable") {
			t.Errorf("client A's initialize failed, but not as refused at the bound: %s", msg)
		}
	}
	for i, cs := range bs {
		if err := callSimpleText(ctx, cs); err != nil {
			t.Errorf("client B's session %d after client A's burst: %v", i+1, err)
		}
	}
}
