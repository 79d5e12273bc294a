package front

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// note is a message of exactly n bytes (n >= 60).
func note(t testing.TB, i, n int) *pipeline.Message {
	t.Helper()
	head := `{"jsonrpc":"2.0","method":"n","params":{"i":` + strconv.Itoa(i) + `,"p":"`
	pad := n - len(head) - 3
	if pad < 0 {
		t.Fatalf("note of %d bytes is too small", n)
	}
	m := mustParse(t, head+strings.Repeat("x", pad)+`"}}`)
	if len(m.Raw) != n {
		t.Fatalf("note is %d bytes, want %d", len(m.Raw), n)
	}
	return m
}

func seqs(evs []event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.seq
	}
	return out
}

func eqSeqs(a []uint64, b ...uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestReplayEviction: the buffer keeps the newest events within its event
// and byte bounds; a read from before the oldest held reports what it
// missed; only undelivered evictions count as lost.
func TestReplayEviction(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		limits  replayLimits
		sizes   []int
		held    []uint64 // seqs held at the end
		evicted uint64   // with nothing delivered
	}{
		{"by count", replayLimits{events: 3, bytes: 1 << 20}, []int{100, 100, 100, 100, 100}, []uint64{3, 4, 5}, 2},
		{"by bytes", replayLimits{events: 100, bytes: 250}, []int{100, 100, 100, 100}, []uint64{3, 4}, 2},
		{"bytes, mixed sizes", replayLimits{events: 100, bytes: 250}, []int{60, 60, 60, 120}, []uint64{2, 3, 4}, 1},
		{"an oversized event is still held", replayLimits{events: 100, bytes: 100}, []int{60, 500}, []uint64{2}, 1},
		{"within bounds", replayLimits{events: 3, bytes: 300}, []int{100, 100, 100}, []uint64{1, 2, 3}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := newStream(4, tc.limits)
			for i, n := range tc.sizes {
				if !st.append(note(t, i, n)) {
					t.Fatal("append to an open stream failed")
				}
			}
			res := st.read(0, nil)
			if !eqSeqs(seqs(res.events), tc.held...) {
				t.Errorf("held %v, want %v", seqs(res.events), tc.held)
			}
			if res.missed != tc.held[0]-1 {
				t.Errorf("read from 0 missed %d, want %d", res.missed, tc.held[0]-1)
			}
			if st.evicted != tc.evicted {
				t.Errorf("evicted %d, want %d", st.evicted, tc.evicted)
			}
			size := 0
			for _, e := range st.events {
				size += len(e.msg.Raw)
			}
			if st.size != size {
				t.Errorf("size %d, want %d", st.size, size)
			}
			// Reading from the newest-but-one held event misses nothing.
			last := tc.held[len(tc.held)-1]
			if res := st.read(last-1, nil); res.missed != 0 || !eqSeqs(seqs(res.events), last) {
				t.Errorf("read(%d) = %v missed %d", last-1, seqs(res.events), res.missed)
			}
			if res := st.read(last, nil); res.missed != 0 || len(res.events) != 0 || res.done {
				t.Errorf("read(%d) = %v missed %d done %v", last, seqs(res.events), res.missed, res.done)
			}
		})
	}
}

// TestReplayMissedAfterDelivery: a reader behind the buffer skips ahead
// and learns how much it missed; evictions of delivered events are not
// counted as lost.
func TestReplayMissedAfterDelivery(t *testing.T) {
	t.Parallel()
	st := newStream(0, replayLimits{events: 2, bytes: 1 << 20})
	st.append(note(t, 1, 60))
	st.append(note(t, 2, 60))
	st.markDelivered(2)
	st.append(note(t, 3, 60))
	st.append(note(t, 4, 60))
	st.append(note(t, 5, 60))
	if st.evicted != 1 { // seq 3 was never delivered
		t.Errorf("evicted %d, want 1", st.evicted)
	}
	res := st.read(2, nil)
	if res.missed != 1 || !eqSeqs(seqs(res.events), 4, 5) {
		t.Errorf("read(2) = %v missed %d, want [4 5] missed 1", seqs(res.events), res.missed)
	}
	if st.deliveredSeq() != 2 {
		t.Errorf("deliveredSeq %d", st.deliveredSeq())
	}
	st.markDelivered(1) // never goes back
	if st.deliveredSeq() != 2 {
		t.Errorf("deliveredSeq went back to %d", st.deliveredSeq())
	}
	// read reuses the caller's buffer.
	buf := make([]event, 0, 8)
	res = st.read(3, buf)
	if cap(res.events) != 8 || !eqSeqs(seqs(res.events), 4, 5) {
		t.Errorf("read into buf: %v cap %d", seqs(res.events), cap(res.events))
	}
}

// TestStreamRespond: a POST stream ends with the last response it waits
// for; the response and the end are seen together.
func TestStreamRespond(t *testing.T) {
	t.Parallel()
	st := newStream(1, replayLimits{events: 10, bytes: 1 << 20})
	st.expect()
	st.expect()
	st.append(note(t, 0, 60)) // progress
	wake := st.read(0, nil).wake
	st.respond(pipeline.NewResult(json.RawMessage("1"), nil))
	select {
	case <-wake:
	default:
		t.Error("respond did not wake the reader")
	}
	if st.isClosed() {
		t.Fatal("closed with a response still due")
	}
	st.respond(nil) // the second request ended without a response (cancelled)
	res := st.read(0, nil)
	if !res.done || !eqSeqs(seqs(res.events), 1, 2) {
		t.Errorf("read = %v done %v, want [1 2] done", seqs(res.events), res.done)
	}
	if st.append(note(t, 9, 60)) {
		t.Error("append to a closed stream succeeded")
	}
	st.respond(pipeline.NewResult(json.RawMessage("3"), nil)) // late: ignored
	if res := st.read(2, nil); len(res.events) != 0 || !res.done {
		t.Errorf("after the end: %v done %v", seqs(res.events), res.done)
	}
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestStreamTakeover: a stream has one reader; a new one kicks the old, and
// an old reader detaching does not unseat the new one.
func TestStreamTakeover(t *testing.T) {
	t.Parallel()
	st := newStream(0, replayLimits{events: 10, bytes: 1 << 20})
	k1 := st.attach()
	if isDone(k1) {
		t.Fatal("a fresh reader is kicked")
	}
	k2 := st.attach()
	if !isDone(k1) || isDone(k2) {
		t.Fatalf("takeover: first kicked %v, second kicked %v", isDone(k1), isDone(k2))
	}
	st.detach(k1) // the old reader leaves late
	k3 := st.attach()
	if !isDone(k2) {
		t.Error("the old reader's detach unseated the current one, so a third reader did not kick it")
	}
	st.detach(k3)
	k4 := st.attach()
	if isDone(k3) {
		t.Error("a detached reader was kicked again")
	}
	if isDone(k4) {
		t.Error("a reader of a free stream is kicked")
	}
}
