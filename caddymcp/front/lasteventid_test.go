package front

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// resumeFixture is a live 2025-11-25 session whose streams are in known
// states: the GET stream sent events 1..3; POST streams 1..3 (initialize
// and two calls) finished and are forgotten; POST stream 4 waits for a response and sent only its
// priming event (seq 0). The session's next stream index is 5.
type resumeFixture struct {
	srv   *Server
	store *Store
	sid   string
}

const fixtureGETEvents, fixtureLiveStream, fixtureNextStream = 3, 4, 5

// newResumeServer is a Server over a fake upstream and a store of its
// own, both ended when tb is.
func newResumeServer(tb testing.TB) (*Server, *Store, *fakeUpstream) {
	tb.Helper()
	up := newFakeUpstream()
	store := NewStore(Limits{}, nil)
	srv, err := New(Config{Upstream: up, Store: store})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(up.wg.Wait)
	tb.Cleanup(func() { store.Close("test over") })
	return srv, store, up
}

func newResumeFixture(tb testing.TB) *resumeFixture {
	tb.Helper()
	srv, store, up := newResumeServer(tb)
	fx := &resumeFixture{srv: srv, store: store}

	post := func(ctx context.Context, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/mcp", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json, text/event-stream")
		if fx.sid != "" {
			r.Header.Set("Mcp-Session-Id", fx.sid)
			r.Header.Set("Mcp-Protocol-Version", Version20251125)
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		return w
	}
	w := post(context.Background(), initBody(Version20251125))
	if fx.sid = w.Header().Get("Mcp-Session-Id"); w.Code != http.StatusOK || fx.sid == "" {
		tb.Fatalf("initialize: %d %s", w.Code, w.Body)
	}
	post(context.Background(), rpcNotification("notifications/initialized", ""))
	c := up.conn(tb, 0)
	for range fixtureGETEvents {
		c.emitRaw(tb, rpcNotification("notifications/tools/list_changed", ""))
	}
	for i := 2; i < fixtureLiveStream; i++ { // stream 1 answered initialize
		if w := post(context.Background(), toolCall(i, "echo")); w.Code != http.StatusOK {
			tb.Fatalf("echo %d: %d %s", i, w.Code, w.Body)
		}
	}
	// The client of stream 4 leaves at once; its request runs on.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); post(ctx, toolCall(fixtureLiveStream, "hang")) }()
	c.waitMethod(tb, "tools/call", "4")
	cancel()
	<-done
	return fx
}

// resume sends a GET with Last-Event-ID through ServeHTTP. The request's
// context is already over, so a stream that is live returns right after
// its headers and whatever it replays.
func (fx *resumeFixture) resume(lastEventID string) *httptest.ResponseRecorder {
	return resumeOn(fx.srv, fx.sid, Version20251125, lastEventID)
}

// resumeOn sends a GET with Last-Event-ID for session sid of version,
// whose context is already over (see resume).
func resumeOn(srv *Server, sid, version, lastEventID string) *httptest.ResponseRecorder {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/mcp", nil)
	r.Header.Set("Accept", "text/event-stream")
	r.Header.Set("Mcp-Session-Id", sid)
	r.Header.Set("Mcp-Protocol-Version", version)
	r.Header["Last-Event-Id"] = []string{lastEventID}
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	return w
}

// wantResumeStatus is the oracle: the status a Last-Event-ID must get on
// the fixture, worked out from the ids the fixture's streams sent.
func wantResumeStatus(id string) int {
	if id == "" {
		return http.StatusOK // no resume: the GET stream opens
	}
	stream, seq, err := parseEventID(id)
	switch {
	case err != nil:
		return http.StatusBadRequest
	case stream == getStreamIndex && seq > fixtureGETEvents:
		return http.StatusBadRequest
	case stream == fixtureLiveStream && seq > 0:
		return http.StatusBadRequest
	case stream >= fixtureNextStream:
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// checkResume checks one answer against the oracle: the status, a JSON-RPC
// error that names the header for a 400, and a session that lives on.
func (fx *resumeFixture) checkResume(t *testing.T, id string, w *httptest.ResponseRecorder) {
	t.Helper()
	if want := wantResumeStatus(id); w.Code != want {
		t.Fatalf("Last-Event-ID %q: status %d, want %d; body %s", id, w.Code, want, w.Body)
	}
	if w.Code == http.StatusBadRequest {
		var body struct {
			Error struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code == 0 ||
			!strings.Contains(body.Error.Message, "Last-Event-ID") {
			t.Fatalf("Last-Event-ID %q: 400 body %q is not a JSON-RPC error naming the header", id, w.Body)
		}
	}
	if fx.store.get(fx.sid) == nil {
		t.Fatalf("Last-Event-ID %q ended the session", id)
	}
}

// TestLastEventIDValidation: a Last-Event-ID the gateway could not have
// sent on this session gets 400 and a message that says what is wrong;
// one it could have sent resumes (200), an existing stream that is no
// longer retained included (an empty, ended stream, never a 404).
func TestLastEventIDValidation(t *testing.T) {
	t.Parallel()
	fx := newResumeFixture(t)
	for _, c := range []struct {
		id      string
		status  int
		message string // part of the 400's message
		events  int    // messages replayed on a 200
	}{
		{"0_0", http.StatusOK, "", 3},
		{"0_2", http.StatusOK, "", 1},
		{"0_3", http.StatusOK, "", 0},
		{"0_1_77", http.StatusOK, "", 2},
		{"2_0", http.StatusOK, "", 0},  // finished, no longer retained
		{"2_99", http.StatusOK, "", 0}, // the same: nothing is left to check it against
		{"4_0", http.StatusOK, "", 0},
		{"0_4", http.StatusBadRequest, "names event 4 of stream 0, which has sent only 3", 0},
		{"0_18446744073709551615", http.StatusBadRequest, "which has sent only 3", 0},
		{"0_9223372036854775808", http.StatusBadRequest, "which has sent only 3", 0}, // a negative int offset in the buffer
		{"4_1", http.StatusBadRequest, "names event 1 of stream 4, which has sent only 0", 0},
		{"5_0", http.StatusBadRequest, "names stream 5, which this session never had", 0},
		{"18446744073709551615_0", http.StatusBadRequest, "never had", 0},
		{"0_18446744073709551616", http.StatusBadRequest, "malformed", 0},
		{"garbage", http.StatusBadRequest, "malformed", 0},
		{"0_1_", http.StatusBadRequest, "malformed", 0},
	} {
		t.Run(c.id, func(t *testing.T) {
			w := fx.resume(c.id)
			fx.checkResume(t, c.id, w)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d", w.Code, c.status)
			}
			if c.status == http.StatusBadRequest {
				if !strings.Contains(w.Body.String(), c.message) {
					t.Errorf("400 body %s does not say %q", w.Body, c.message)
				}
				return
			}
			if n := strings.Count(w.Body.String(), "event: message"); n != c.events {
				t.Errorf("replayed %d messages, want %d: %q", n, c.events, w.Body)
			}
		})
	}
}

// FuzzLastEventID drives the Last-Event-ID header through serveGet on a
// live session: whatever the value, no panic, only 200 or 400 (as the
// oracle says), and the session lives on.
func FuzzLastEventID(f *testing.F) {
	for _, seed := range []string{
		"", "0_0", "0_3", "0_4", "0_3_12", "1_0", "4_0", "4_1", "5_0", "7_7_7",
		"18446744073709551615_18446744073709551615", "0_9223372036854775808", "0_18446744073709551616", "99999999999999999999_0",
		"garbage", "_", "0_", "_0", "0__0", "0_0_", "-1_0", "+0_0", "0x1_0", " 0_0", "0_0\n", "0_0\r\nX: y", "\x00",
	} {
		f.Add(seed)
	}
	fx := newResumeFixture(f)
	f.Fuzz(func(t *testing.T, id string) {
		fx.checkResume(t, id, fx.resume(id))
	})
}

// TestLastEventIDOfJSONAnswers: a request answered as plain JSON (a
// 2025-06-18 initialize, a call) had no stream and no events, so an id
// naming one is 400 like any other id the gateway never sent — whatever
// its event number — while the ids of a stream that was sent still
// resume.
func TestLastEventIDOfJSONAnswers(t *testing.T) {
	t.Parallel()
	srv, store, _ := newResumeServer(t)
	var sid string
	post := func(body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json, text/event-stream")
		if sid != "" {
			r.Header.Set("Mcp-Session-Id", sid)
			r.Header.Set("Mcp-Protocol-Version", Version20250618)
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		return w
	}
	wantJSON := func(what string, w *httptest.ResponseRecorder) {
		t.Helper()
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %s %s, want a plain JSON answer", what, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	}
	w := post(initBody(Version20250618))
	wantJSON("initialize", w)
	sid = w.Header().Get("Mcp-Session-Id")
	post(rpcNotification("notifications/initialized", ""))
	wantJSON("a call", post(toolCall(2, "echo")))

	check := func(id string, want int) {
		t.Helper()
		w := resumeOn(srv, sid, Version20250618, id)
		if w.Code != want {
			t.Errorf("Last-Event-ID %q: %d, want %d; body %s", id, w.Code, want, w.Body)
		}
		if want == http.StatusBadRequest && !strings.Contains(w.Body.String(), "Last-Event-ID") {
			t.Errorf("Last-Event-ID %q: 400 body %s does not name the header", id, w.Body)
		}
		if store.get(sid) == nil {
			t.Fatalf("Last-Event-ID %q ended the session", id)
		}
	}
	for _, id := range []string{
		"1_18446744073709551615",   // the initialize's, as the review sent it
		"1_0", "1_1", "2_0", "2_1", // the initialize's and the call's, had they been streams
		"3_0",                    // a stream index that never existed
		"18446744073709551615_0", // a huge one
		"9223372036854775809_0",
	} {
		check(id, http.StatusBadRequest)
	}

	// A call answered as a stream: its ids resume; the next index still
	// names nothing.
	w = post(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"progress","_meta":{"progressToken":"p"}}}`)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/event-stream" {
		t.Fatalf("a call with progress: %d %s, want a stream", w.Code, w.Header().Get("Content-Type"))
	}
	var ids []string
	if err := parseSSE(w.Body, func(ev sseEvent) bool {
		if ev.hasID {
			ids = append(ids, ev.id)
		}
		return true
	}); err != nil || len(ids) == 0 {
		t.Fatalf("the stream's ids %q: %v", ids, err)
	}
	for _, id := range ids {
		check(id, http.StatusOK)
	}
	index, _, err := parseEventID(ids[0])
	if err != nil {
		t.Fatal(err)
	}
	check(eventID(index+1, 0), http.StatusBadRequest)
	check("0_0", http.StatusOK) // the GET stream
}
