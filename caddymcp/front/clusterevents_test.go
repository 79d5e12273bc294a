//lint:file-ignore SA1019 the tests send log messages, deprecated from 2026-07-28 on and part of the 2025 revisions whose streams they resume.

package front

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/seal"
)

// loggingUpstream is a go-sdk server over Streamable HTTP with an event
// store, whose test sends log messages on the standalone stream.
type loggingUpstream struct {
	url  string
	srv  *mcp.Server
	gets atomic.Int32 // GET streams open
}

func newLoggingUpstream(t *testing.T) *loggingUpstream {
	t.Helper()
	u := &loggingUpstream{}
	u.srv = mcp.NewServer(&mcp.Implementation{Name: "logs", Version: "1"}, nil)
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return u.srv },
		&mcp.StreamableHTTPOptions{EventStore: mcp.NewMemoryEventStore(nil)})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			u.gets.Add(1)
			defer u.gets.Add(-1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		ts.Close()
		for ss := range u.srv.Sessions() {
			_ = ss.Close()
		}
	})
	u.url = ts.URL
	return u
}

// log sends message n to the one session, unrelated to any request: on
// the standalone stream, which the event store keeps whether or not a GET
// is open.
func (u *loggingUpstream) log(t *testing.T, n int) {
	t.Helper()
	for ss := range u.srv.Sessions() {
		if err := ss.Log(context.Background(), &mcp.LoggingMessageParams{Level: "info", Data: strconv.Itoa(n)}); err != nil {
			t.Fatal(err)
		}
	}
}

// gatedBalancer passes every request to the instance it points at; while
// gate is set, requests wait for it to close first.
type gatedBalancer struct {
	to   atomic.Pointer[instance]
	mu   sync.Mutex
	gate chan struct{}
}

func (lb *gatedBalancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lb.mu.Lock()
	gate := lb.gate
	lb.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	lb.to.Load().srv.ServeHTTP(w, r)
}

// TestClusterResumeFromUpstream: a go-sdk client's standalone stream,
// served by instance a, ends as a stops (a rolling restart); the server
// sends more while no instance listens; the client's resume lands on b,
// which never held the session: b reads the upstream's event id in the
// client's sealed Last-Event-ID and resumes the upstream's stream after
// it, so every message arrives, once and in order.
func TestClusterResumeFromUpstream(t *testing.T) {
	up := newLoggingUpstream(t)
	ring := testRing(t)
	a := newInstance(t, up.url, &Cluster{Ring: ring, Endpoint: "api"})
	b := newInstance(t, up.url, &Cluster{Ring: ring, Endpoint: "api"})
	lb := &gatedBalancer{}
	lb.to.Store(a)
	ts := httptest.NewServer(lb)
	defer ts.Close()

	got := make(chan string, 16)
	ctx := context.Background()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, &mcp.ClientOptions{
		LoggingMessageHandler: func(_ context.Context, r *mcp.LoggingMessageRequest) { got <- fmt.Sprint(r.Params.Data) },
	}).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: ts.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "info"}); err != nil {
		t.Fatal(err)
	}
	// The first message reaches the client through a, once a listens.
	if !pollFor(func() bool { return up.gets.Load() > 0 }) {
		t.Fatal("a never opened the upstream's GET stream")
	}
	up.log(t, 1)
	if m := <-got; m != "1" {
		t.Fatalf("got %q first", m)
	}

	gate := make(chan struct{})
	lb.mu.Lock()
	lb.gate = gate
	lb.mu.Unlock()
	lb.to.Store(b)
	a.stop()
	for n := 2; n <= 5; n++ {
		up.log(t, n)
	}
	close(gate)
	// The upstream replays what follows the client's place, and only that
	// (without it, go-sdk replays its stream from the start: "1" again).
	for want := 2; want <= 5; want++ {
		select {
		case m := <-got:
			if m != strconv.Itoa(want) {
				t.Fatalf("got %q, want %d", m, want)
			}
		case <-time.After(20 * time.Second): // a hang guard
			t.Fatalf("message %d never arrived", want)
		}
	}
}

// pollFor reports whether cond came true within a hang guard's bound.
func pollFor(cond func() bool) bool {
	for range 2000 {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// TestClusterSealedEventIDs: with a cluster a stream's event ids are
// sealed, bound to the endpoint and the user; a Last-Event-ID that does not
// open (forged, tampered, another user's) is malformed, 400, as an id of no
// known form is without a cluster; one this instance minted resumes from
// its buffer.
func TestClusterSealedEventIDs(t *testing.T) {
	up := newLoggingUpstream(t)
	ring := testRing(t)
	a := newInstance(t, up.url, &Cluster{Ring: ring, Endpoint: "api"})
	ts := httptest.NewServer(a.srv)
	defer ts.Close()
	cs := connectSDK(t, context.Background(), &mcp.StreamableClientTransport{Endpoint: ts.URL})
	defer cs.Close()
	sess := a.store.get(cs.ID())
	if sess == nil {
		t.Fatal("no session")
	}
	mine := ring.SealEvent(seal.Binding{Endpoint: "api"}, seal.Event{Epoch: sess.eventEpoch(), Stream: getStreamIndex})
	tampered := []byte(mine)
	tampered[len(tampered)/2] ^= 1
	for _, c := range []struct {
		name, last string
		want       int
	}{
		{"minted here", mine, http.StatusOK},
		{"forged", "not-an-event-id", http.StatusBadRequest},
		{"tampered", string(tampered), http.StatusBadRequest},
		{"another endpoint's", ring.SealEvent(seal.Binding{Endpoint: "other"}, seal.Event{Epoch: sess.eventEpoch()}), http.StatusBadRequest},
		{"another user's", ring.SealEvent(seal.Binding{Endpoint: "api", User: "mallory"}, seal.Event{Epoch: sess.eventEpoch()}), http.StatusBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL, nil)
			r.Header.Set("Accept", "text/event-stream")
			r.Header.Set("Mcp-Session-Id", cs.ID())
			r.Header.Set("Mcp-Protocol-Version", Version20250618)
			r.Header.Set("Last-Event-ID", c.last)
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("answered %d, want %d", resp.StatusCode, c.want)
			}
		})
	}
}
