package front

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"go.uber.org/zap"
	zapobserver "go.uber.org/zap/zaptest/observer"
)

// noteIndex returns the number of a note (stream_test.go) a client read.
func noteIndex(t testing.TB, m rpcMsg) int {
	t.Helper()
	var p struct {
		I *int `json:"i"`
	}
	if err := json.Unmarshal(m.Params, &p); err != nil || p.I == nil {
		t.Fatalf("want a note, got %s", m.raw)
	}
	return *p.I
}

// TestReplayBudgetResumeAfterTrim: a client whose GET stream dropped comes
// back after the server sent more than the replay budget holds. It gets the
// oldest events still held, in order, and the events the budget dropped
// before it had them are counted and logged with its session.
func TestReplayBudgetResumeAfterTrim(t *testing.T) {
	t.Parallel()
	core, logs := zapobserver.New(zap.InfoLevel)
	h := newHarness(t, func(s *setup) { s.cfg.Logger = zap.New(core) })
	const budget, size, sent = 2000, 300, 10
	h.store.SetLimits(Limits{ReplayBudget: budget})
	sid := h.initialize(t, Version20250618)
	c := h.up.conn(t, 0)

	ctx, drop := context.WithCancel(context.Background())
	get := h.openStream(t, ctx, req{method: http.MethodGet, sid: sid, version: Version20250618, tag: "get"})
	c.emit(note(t, 1, size))
	first, m := get.nextMessage(t)
	if noteIndex(t, m) != 1 {
		t.Fatalf("first event %s, want note 1", m.raw)
	}
	drop()
	within(t, h.handlerDone("get"), "the GET handler to notice the drop")

	for i := 2; i <= sent; i++ {
		c.emit(note(t, i, size))
	}
	if held := checkBudget(t, h.store.budget); held > budget {
		t.Fatalf("held %d bytes, above the budget of %d", held, budget)
	}
	oldest := h.session(t, sid).stream(getStreamIndex).read(0, nil).events[0].seq
	if oldest <= 2 {
		t.Fatalf("the oldest event held is %d: the budget dropped nothing the client had not seen", oldest)
	}
	lost := int64(oldest - 2) // notes 2 … oldest-1
	if got := h.store.ReplayLost(); got != lost {
		t.Errorf("ReplayLost = %d, want %d", got, lost)
	}

	resumed := h.openStream(t, context.Background(), req{method: http.MethodGet, sid: sid, version: Version20250618, lastEventID: first.id})
	for want := int(oldest); want <= sent; want++ {
		ev, m := resumed.nextMessage(t)
		if got := noteIndex(t, m); got != want {
			t.Fatalf("resumed stream sent note %d (id %s), want %d", got, ev.id, want)
		}
	}
	missed := logs.FilterMessageSnippet("fell behind").FilterField(zap.String("session", sid)).
		FilterField(zap.Uint64("missed", uint64(lost)))
	if missed.Len() != 1 {
		t.Errorf("want one warning that %d events were missed, got %v", lost, logs.All())
	}
}

// TestReplayBudgetSparesListenedStream: while idle sessions' buffers are
// trimmed to the budget, a stream a client listens to keeps its events,
// even though they are the oldest.
func TestReplayBudgetSparesListenedStream(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const budget, size = 3000, 300
	h.store.SetLimits(Limits{ReplayBudget: budget})
	listened := h.initialize(t, Version20250618)
	get := h.openStream(t, context.Background(), req{method: http.MethodGet, sid: listened, version: Version20250618})
	c := h.up.conn(t, 0)
	for i := 1; i <= 5; i++ {
		c.emit(note(t, i, size))
		if _, m := get.nextMessage(t); noteIndex(t, m) != i {
			t.Fatalf("listened stream sent %s, want note %d", m.raw, i)
		}
	}
	var idle []string
	for k := 1; k <= 2; k++ {
		sid := h.initialize(t, Version20250618)
		idle = append(idle, sid)
		for i := 1; i <= 10; i++ {
			h.up.conn(t, k).emit(note(t, 100*k+i, size))
		}
	}

	if held := checkBudget(t, h.store.budget); held > budget {
		t.Errorf("held %d bytes, above the budget of %d", held, budget)
	}
	res := h.session(t, listened).stream(getStreamIndex).read(0, nil)
	if res.missed != 0 || len(res.events) != 5 {
		t.Errorf("the listened stream holds %v (missed %d), want its 5 events", seqs(res.events), res.missed)
	}
	for _, sid := range idle {
		if res := h.session(t, sid).stream(getStreamIndex).read(0, nil); res.missed == 0 {
			t.Errorf("idle session %s kept all of %v", sid, seqs(res.events))
		}
	}
}

// TestReplayBudgetReturnedWhenSessionsEnd: a POST stream whose answer was
// delivered, a POST stream pruned beyond the retention bound, and the
// streams of a session that ended give their bytes back; an empty store
// holds none.
func TestReplayBudgetReturnedWhenSessionsEnd(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.store.SetLimits(Limits{ReplayBudget: 1 << 20})
	const size = 300
	var sids []string
	for k := range 3 {
		sid := h.initialize(t, Version20250618)
		sids = append(sids, sid)
		rp := h.do(t, req{sid: sid, version: Version20250618, body: toolCall(1, "echo")})
		if m := rp.only(t); m.Result == nil {
			t.Fatalf("tools/call: %s", rp)
		}
		for i := range 3 {
			h.up.conn(t, k).emit(note(t, i, size))
		}
	}
	if held := checkBudget(t, h.store.budget); held != 3*3*size {
		t.Fatalf("held %d bytes, want the GET streams' %d (answered POST streams give theirs back)", held, 3*3*size)
	}

	// Finished POST streams beyond the retention bound are pruned.
	sess := h.session(t, sids[0])
	for i := range retainedStreams + 4 {
		st, err := sess.newPostStream()
		if err != nil {
			t.Fatal(err)
		}
		st.expect()
		st.respond(note(t, 1000+i, size))
	}
	want := int64((3*3 + retainedStreams + 1) * size) // the newest stream is pruned only by the next
	if held := checkBudget(t, h.store.budget); held != want {
		t.Errorf("held %d bytes after pruning, want %d", held, want)
	}
	sess.mu.Lock()
	streams, order := len(sess.streams), len(sess.order)
	sess.mu.Unlock()
	if streams != retainedStreams+2 || order != retainedStreams+1 {
		t.Errorf("session keeps %d streams (%d in order), want the GET stream and %d finished POST streams",
			streams, order, retainedStreams+1)
	}

	wantStatus(t, h.do(t, req{method: http.MethodDelete, sid: sids[1], version: Version20250618}), http.StatusNoContent)
	want -= 3 * size
	if held := checkBudget(t, h.store.budget); held != want {
		t.Errorf("held %d bytes after a DELETE, want %d", held, want)
	}

	h.store.Close("test over")
	if held := checkBudget(t, h.store.budget); held != 0 || h.store.Len() != 0 {
		t.Errorf("closed store: %d sessions, %d bytes held, want none", h.store.Len(), held)
	}
	if got := h.store.ReplayHeld(); got != 0 {
		t.Errorf("ReplayHeld = %d on an empty store", got)
	}
}

// TestReplayBudgetLoweredOnReload: lowering the budget (a reload) trims at
// once.
func TestReplayBudgetLoweredOnReload(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20250618)
	for i := range 20 {
		h.up.conn(t, 0).emit(note(t, i, 500))
	}
	if held := h.store.ReplayHeld(); held != 20*500 {
		t.Fatalf("no budget: held %d bytes, want %d", held, 20*500)
	}
	h.store.SetLimits(Limits{ReplayBudget: 4000})
	if held := checkBudget(t, h.store.budget); held > 4000 {
		t.Errorf("held %d bytes after the budget was lowered to 4000", held)
	}
	if res := h.session(t, sid).stream(getStreamIndex).read(0, nil); res.missed == 0 {
		t.Errorf("nothing was trimmed: %v", seqs(res.events))
	}
}
