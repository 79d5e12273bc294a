package front

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSnapshotAndEnd: Sessions and Session copy what the admin API shows
// of each live session; End ends one as its server's end would — its
// request in flight is answered, its upstream connection closes, its next
// request gets 404 — and reports false for an id that is not live.
func TestSnapshotAndEnd(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testUser)
	before := time.Now()
	alice := h.initializeAs(t, "alice")
	anon := h.initializeAs(t, "")
	// alice's session has a request in flight.
	call := h.start(t, req{sid: alice, user: "alice", version: Version20250618, body: toolCall("hang-1", "hang")})
	h.up.conn(t, 0).waitMethod(t, "tools/call", `"hang-1"`)

	infos := map[string]SessionInfo{}
	for _, info := range h.store.Sessions() {
		infos[info.ID] = info
	}
	for _, c := range []struct {
		id, user, client string
		inFlight         int
	}{
		{alice, "alice", "alice", 1},
		{anon, "", "127.0.0.1", 0},
	} {
		info, ok := infos[c.id]
		switch {
		case !ok:
			t.Fatalf("session %s is not in the snapshot %+v", c.id, infos)
		case info.User != c.user, info.Client != c.client, info.InFlight != c.inFlight, info.Upstream != h.up,
			info.ProtocolVersion != Version20250618, info.SSE2024, info.PID != 0:
			t.Errorf("session %s: %+v, want user %q, client %q, %d in flight", c.id, info, c.user, c.client, c.inFlight)
		case info.Created.Before(before), info.LastActive.Before(info.Created):
			t.Errorf("session %s: created %v, last active %v (test began %v)", c.id, info.Created, info.LastActive, before)
		}
		if one, ok := h.store.Session(c.id); !ok || one.ID != c.id {
			t.Errorf("Session(%s) = %+v, %v", c.id, one, ok)
		}
	}
	if len(infos) != 2 {
		t.Errorf("%d sessions in the snapshot, want 2", len(infos))
	}

	if !h.store.End(alice, "ended by the test") {
		t.Fatal("End of a live session reported false")
	}
	if rp := call.wait(t); !strings.Contains(rp.String(), "session ended: ended by the test") {
		t.Errorf("the request in flight got %s", rp)
	}
	h.up.conn(t, 0).waitClosed(t)
	wantStatus(t, h.do(t, req{sid: alice, user: "alice", version: Version20250618, body: toolCall("2", "echo")}), http.StatusNotFound)
	if h.store.End(alice, "again") {
		t.Error("End of an ended session reported true")
	}
	if _, ok := h.store.Session(alice); ok {
		t.Error("Session of an ended session reported it live")
	}
	if got := h.store.Sessions(); len(got) != 1 || got[0].ID != anon {
		t.Errorf("after End: %+v, want only %s", got, anon)
	}
}
