package front

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// sharedBounds are the bounds all clients share, at 4 sessions.
var sharedBounds = []struct {
	name string
	mod  func(*setup)
	msg  string
}{
	{"max_sessions", func(s *setup) { s.maxSessions = 4 }, "max_sessions"},
	{"upstream capacity", func(s *setup) { s.up.capacity = 4 }, "max_processes"},
}

// holding is a session a test opens before the new one: its user, and how
// it is kept busy (nil: idle).
type holding struct {
	user string
	busy busyBy
}

// TestFairShare: at a bound all clients share, a new session may end only
// an idle session of its own client, or the least recently used session of
// a client holding more than its share of the bound (the bound divided
// among the clients holding sessions, the newcomer's included) — even one
// its client listens on; never one with a request in flight. Sessions are
// opened in the order listed (upstream connection i is session i).
func TestFairShare(t *testing.T) {
	t.Parallel()
	idle := func(user string) holding { return holding{user, nil} }
	listening := func(user string) holding { return holding{user, openGetStream} }
	working := func(user string) holding { return holding{user, requestInFlight} }
	times := func(n int, h holding) []holding { return slices.Repeat([]holding{h}, n) }
	for _, c := range []struct {
		name     string
		held     []holding
		newcomer string
		ended    int    // the session ended for the newcomer; -1: it is refused
		refusal  string // what else the refusal says
	}{
		{"another client's idle session under its share stays",
			append([]holding{idle("bob")}, times(3, idle("alice"))...), "alice", 1, ""},
		{"a client over its share loses its least recently used listening session",
			times(4, listening("alice")), "bob", 0, ""},
		{"of three clients, only the one over its share gives way",
			append(times(3, listening("alice")), idle("bob")), "carol", 0, ""},
		{"a session with a request in flight is never ended",
			times(4, working("alice")), "bob", -1, ""},
		{"a client alone keeps its listening sessions",
			times(4, listening("alice")), "alice", -1, ""},
		{"a client at its share is told so",
			append(times(2, working("alice")), times(2, working("bob"))...), "alice", -1, "fair share"},
	} {
		for _, bound := range sharedBounds {
			t.Run(bound.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, bound.mod, testUser)
				for i, held := range c.held {
					sid := h.initializeAs(t, held.user)
					if held.busy != nil {
						defer held.busy(t, h, sid, held.user, i)()
					}
				}
				rp := h.do(t, req{body: initBody(Version20250618), user: c.newcomer})
				if c.ended < 0 {
					wantError(t, rp, http.StatusServiceUnavailable, pipeline.CodeInternalError, bound.msg)
					if !strings.Contains(rp.String(), c.refusal) {
						t.Errorf("the refusal does not say %q: %s", c.refusal, rp)
					}
					if rp.header.Get("Retry-After") == "" {
						t.Error("no Retry-After on the refusal")
					}
				} else {
					wantStatus(t, rp, http.StatusOK)
					h.up.conn(t, c.ended).waitClosed(t)
				}
				for i := range c.held {
					if i != c.ended && h.up.conn(t, i).isClosed() {
						t.Errorf("session #%d (%s's) was ended", i, c.held[i].user)
					}
				}
				if want := int64(min(c.ended+1, 1)); h.store.Evicted() != want {
					t.Errorf("Evicted() = %d, want %d", h.store.Evicted(), want)
				}
			})
		}
	}
}

// TestNewSessionsAreSpared: a session is not ended for a new one at any
// bound while its handshake is under way (initialize answered,
// notifications/initialized not yet sent), nor within the grace after it,
// until the client's next request (or one sent before it, as the go-sdk's
// GET stream may be); then it may give way as before.
func TestNewSessionsAreSpared(t *testing.T) {
	t.Parallel()
	bounds := append(slices.Clone(sharedBounds), struct {
		name string
		mod  func(*setup)
		msg  string
	}{"max_sessions_per_client", func(s *setup) { s.perClient = 4 }, "max_sessions_per_client"})
	for _, state := range []struct {
		name  string
		open  func(t *testing.T, h *harness) string
		spare bool
	}{
		{"initialize answered, initialized not sent", func(t *testing.T, h *harness) string {
			rp := h.do(t, req{body: initBody(Version20250618), user: "alice"})
			wantStatus(t, rp, http.StatusOK)
			return rp.header.Get("Mcp-Session-Id")
		}, true},
		{"handshake done, nothing sent since", func(t *testing.T, h *harness) string {
			return h.initializeAs(t, "alice")
		}, true},
		{"a request while initialized is on its way", func(t *testing.T, h *harness) string {
			rp := h.do(t, req{body: initBody(Version20250618), user: "alice"})
			wantStatus(t, rp, http.StatusOK)
			sid := rp.header.Get("Mcp-Session-Id")
			wantStatus(t, h.do(t, req{sid: sid, user: "alice", version: Version20250618, body: toolCall(1, "echo")}), http.StatusOK)
			wantStatus(t, h.do(t, req{sid: sid, user: "alice", version: Version20250618,
				body: rpcNotification("notifications/initialized", "")}), http.StatusAccepted)
			return sid
		}, false},
		{"a request after the handshake", func(t *testing.T, h *harness) string {
			sid := h.initializeAs(t, "alice")
			wantStatus(t, h.do(t, req{sid: sid, user: "alice", version: Version20250618, body: toolCall(1, "echo")}), http.StatusOK)
			return sid
		}, false},
	} {
		for _, bound := range bounds {
			t.Run(bound.name+"/"+state.name, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, bound.mod, testUser, func(s *setup) { s.grace = time.Hour })
				for range 4 {
					state.open(t, h)
				}
				rp := h.do(t, req{body: initBody(Version20250618), user: "alice"})
				if !state.spare {
					wantStatus(t, rp, http.StatusOK)
					h.up.conn(t, 0).waitClosed(t)
					return
				}
				if rp.status == http.StatusOK {
					t.Fatalf("a new session took the place of one being set up: %s", rp)
				}
				if got := rp.header.Get("Retry-After"); got == "" {
					t.Errorf("no Retry-After on the refusal: %s", rp)
				}
				for i := range 4 {
					if h.up.conn(t, i).isClosed() {
						t.Errorf("session #%d was ended", i)
					}
				}
			})
		}
	}
}

// TestFairShareArithmetic: who is over the share, and who is at it.
func TestFairShareArithmetic(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		bound      int
		held       map[string]int
		newcomer   string
		over, full []string
	}{
		{16, map[string]int{"a": 16}, "a", nil, nil},
		{16, map[string]int{"a": 16}, "b", []string{"a"}, []string{"a"}},
		{16, map[string]int{"a": 8, "b": 8}, "b", nil, []string{"a", "b"}},
		{16, map[string]int{"a": 9, "b": 7}, "c", []string{"a", "b"}, []string{"a", "b"}},
		{16, map[string]int{"a": 14, "b": 2}, "a", []string{"a"}, []string{"a"}},
		{4, map[string]int{"a": 3, "b": 1}, "c", []string{"a"}, []string{"a"}},
	} {
		t.Run(fmt.Sprint(c.bound, c.held, c.newcomer), func(t *testing.T) {
			f := newFairShare(c.bound, c.held, c.newcomer)
			for _, client := range []string{"a", "b", "c"} {
				if got, want := f.over(client), slices.Contains(c.over, client); got != want {
					t.Errorf("over(%s) = %v, want %v", client, got, want)
				}
				if got, want := f.full(client), slices.Contains(c.full, client); got != want {
					t.Errorf("full(%s) = %v, want %v", client, got, want)
				}
			}
		})
	}
}
