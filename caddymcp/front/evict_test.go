package front

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// initializeAs starts a session of user at 2025-06-18 and returns its id.
func (h *harness) initializeAs(t testing.TB, user string) string {
	t.Helper()
	rp := h.do(t, req{body: initBody(Version20250618), user: user})
	wantStatus(t, rp, http.StatusOK)
	sid := rp.header.Get("Mcp-Session-Id")
	if sid == "" {
		t.Fatalf("initialize answered without Mcp-Session-Id: %s", rp)
	}
	wantStatus(t, h.do(t, req{sid: sid, user: user, version: Version20250618,
		body: rpcNotification("notifications/initialized", "")}), http.StatusAccepted)
	return sid
}

func testUser(s *setup) {
	s.cfg.Clients = headerUsers
}

// busyBy makes session sid of user busy the way a client keeps it: a
// request in flight, or an open GET stream. The returned func ends it.
type busyBy func(t *testing.T, h *harness, sid, user string, conn int) (stop func())

var (
	requestInFlight busyBy = func(t *testing.T, h *harness, sid, user string, conn int) func() {
		// The request stays in flight even once its HTTP request ends
		// (2025 clients may resume); the test's cleanup ends the session.
		h.start(t, req{sid: sid, user: user, version: Version20250618, body: toolCall("hang-1", "hang")})
		h.up.conn(t, conn).waitMethod(t, "tools/call", `"hang-1"`)
		return func() {}
	}
	openGetStream busyBy = func(t *testing.T, h *harness, sid, user string, _ int) func() {
		ctx, cancel := context.WithCancel(context.Background())
		st := h.openStream(t, ctx, req{method: http.MethodGet, sid: sid, user: user, version: Version20250618})
		st.nextBlock(t)
		return cancel
	}
)

// TestEvictionAtBounds: at each bound a new session takes the place of the
// least recently used idle session in its way, which ends (its upstream
// closes, its next request gets 404); when every such session is busy — a
// request in flight, or a client listening — the new one is refused with
// the bound's status and Retry-After, and nothing is ended.
func TestEvictionAtBounds(t *testing.T) {
	t.Parallel()
	for _, bound := range []struct {
		name   string
		mod    func(*setup)
		status int
		msg    string
	}{
		{"max_sessions", func(s *setup) { s.maxSessions = 2 }, http.StatusServiceUnavailable, "max_sessions"},
		{"max_sessions_per_client", func(s *setup) { s.perClient = 2 }, http.StatusTooManyRequests, "max_sessions_per_client"},
		{"upstream capacity", func(s *setup) { s.up.capacity = 2 }, http.StatusServiceUnavailable, "max_processes"},
	} {
		t.Run(bound.name+"/idle", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, bound.mod, testUser)
			oldest := h.initializeAs(t, "alice")
			newer := h.initializeAs(t, "alice")
			// oldest was used after newer: newer is now the least recently used.
			wantStatus(t, h.do(t, req{sid: oldest, user: "alice", version: Version20250618, body: toolCall(1, "echo")}), http.StatusOK)

			third := h.initializeAs(t, "alice")
			h.up.conn(t, 1).waitClosed(t)
			wantError(t, h.do(t, req{sid: newer, user: "alice", version: Version20250618, body: toolCall(2, "echo")}),
				http.StatusNotFound, codeSessionNotFound, "Session not found")
			for _, sid := range []string{oldest, third} {
				wantStatus(t, h.do(t, req{sid: sid, user: "alice", version: Version20250618, body: toolCall(3, "echo")}), http.StatusOK)
			}
			if got := h.store.Evicted(); got != 1 {
				t.Errorf("Evicted() = %d, want 1", got)
			}
		})
		for _, busy := range []struct {
			name string
			make busyBy
		}{{"request in flight", requestInFlight}, {"GET stream open", openGetStream}} {
			t.Run(bound.name+"/busy/"+busy.name, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, bound.mod, testUser)
				for i := range 2 {
					sid := h.initializeAs(t, "alice")
					defer busy.make(t, h, sid, "alice", i)()
				}
				rp := h.do(t, req{body: initBody(Version20250618), user: "alice"})
				wantError(t, rp, bound.status, pipeline.CodeInternalError, bound.msg)
				if got := rp.header.Get("Retry-After"); got == "" {
					t.Error("no Retry-After on the refusal")
				}
				if rp.header.Get("Mcp-Session-Id") != "" {
					t.Error("the refusal names a session")
				}
				for i := range 2 {
					if h.up.conn(t, i).isClosed() {
						t.Errorf("busy session #%d was ended", i)
					}
				}
				if got := h.store.Evicted(); got != 0 {
					t.Errorf("Evicted() = %d, want 0", got)
				}
			})
		}
	}
}

// TestPerClientBoundIsPerClient: a client at its bound gives up its own
// oldest idle session, never another client's, and another client still
// gets sessions while the first is refused.
func TestPerClientBoundIsPerClient(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *setup) { s.perClient = 1 }, testUser)
	bob := h.initializeAs(t, "bob") // older than anything of alice's
	alice1 := h.initializeAs(t, "alice")
	alice2 := h.initializeAs(t, "alice")

	wantError(t, h.do(t, req{sid: alice1, user: "alice", version: Version20250618, body: toolCall(1, "echo")}),
		http.StatusNotFound, codeSessionNotFound, "Session not found")
	for sid, user := range map[string]string{bob: "bob", alice2: "alice"} {
		wantStatus(t, h.do(t, req{sid: sid, user: user, version: Version20250618, body: toolCall(2, "echo")}), http.StatusOK)
	}

	// alice's only session is busy: she is refused, carol is not.
	defer requestInFlight(t, h, alice2, "alice", 2)()
	rp := h.do(t, req{body: initBody(Version20250618), user: "alice"})
	wantError(t, rp, http.StatusTooManyRequests, pipeline.CodeInternalError, "max_sessions_per_client")
	if !strings.Contains(rp.String(), "DELETE") {
		t.Errorf("the refusal does not say how to free a session: %s", rp)
	}
	h.initializeAs(t, "carol")
}
