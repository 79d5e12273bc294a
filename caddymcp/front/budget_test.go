package front

import (
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"
	zapobserver "go.uber.org/zap/zaptest/observer"
)

// checkBudget checks the budget's accounting against the buffers: each
// registered stream's size is the sum of its events' raw sizes, and the
// total is the sum over the registered streams. It returns the total.
func checkBudget(t testing.TB, b *replayBudget) int64 {
	t.Helper()
	b.mu.Lock()
	streams := make([]*stream, 0, len(b.streams))
	for s := range b.streams {
		streams = append(streams, s)
	}
	b.mu.Unlock()
	var sum int64
	for _, s := range streams {
		s.mu.Lock()
		raw := 0
		for _, ev := range s.events {
			raw += len(ev.msg.Raw)
		}
		if raw != s.size {
			t.Errorf("stream %d: size %d, but its events hold %d bytes", s.index, s.size, raw)
		}
		if s.released {
			t.Errorf("stream %d is released but still registered", s.index)
		}
		sum += int64(raw)
		s.mu.Unlock()
	}
	if got := b.held(); got != sum {
		t.Errorf("budget holds %d bytes, the buffers %d", got, sum)
	}
	return sum
}

// heldNotes returns "<stream>:<i>" for every event held, in stream order,
// where i is the note's number.
func heldNotes(t testing.TB, streams map[string]*stream) []string {
	t.Helper()
	var out []string
	for name, s := range streams {
		for _, ev := range s.read(0, nil).events {
			p := string(ev.msg.Params)
			i := strings.TrimSuffix(strings.SplitN(strings.TrimPrefix(p, `{"i":`), ",", 2)[0], "}")
			out = append(out, name+i)
		}
	}
	slices.Sort(out)
	return out
}

// TestReplayBudgetOrder: above the budget, events go oldest first in this
// order: delivered events of streams nobody reads, then their undelivered
// events (counted as missed and logged), then delivered events of streams a
// reader is attached to, and only then their undelivered ones.
func TestReplayBudgetOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		limit int64
		held  []string
		lost  int64 // undelivered events dropped
	}{
		{"within the budget", 700, []string{"a1", "a2", "b3", "b4", "c5", "c6", "d7"}, 0},
		{"delivered events of idle streams", 600, []string{"b3", "b4", "c5", "c6", "d7"}, 0},
		{"then undelivered events of idle streams", 460, []string{"b3", "b4", "c6", "d7"}, 1},
		{"then delivered events of attached streams", 300, []string{"b4", "d7"}, 2},
		{"then undelivered events of attached streams, oldest first", 150, []string{"d7"}, 3},
		{"everything, when the budget is below one event", 50, nil, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			core, logs := zapobserver.New(zap.InfoLevel)
			b := newReplayBudget(zap.New(core))
			limits := replayLimits{events: 100, bytes: 1 << 20}
			streams := map[string]*stream{
				"a": b.newStream(1, limits), // idle, everything delivered
				"b": b.newStream(2, limits), // attached, one of two delivered
				"c": b.newStream(3, limits), // idle, nothing delivered
				"d": b.newStream(4, limits), // attached, nothing delivered
			}
			kickB := streams["b"].attach()
			defer streams["b"].detach(kickB)
			kickD := streams["d"].attach()
			defer streams["d"].detach(kickD)
			// Append order (stamps) is the note number: a1 a2 b3 b4 c5 c6 d7.
			for i, name := range []string{"a", "a", "b", "b", "c", "c", "d"} {
				streams[name].append(note(t, i+1, 100))
			}
			streams["a"].markDelivered(2)
			streams["b"].markDelivered(1)
			if got := checkBudget(t, b); got != 700 {
				t.Fatalf("held %d bytes before the budget applies, want 700", got)
			}

			b.setLimit(tc.limit)

			if got := heldNotes(t, streams); !slices.Equal(got, tc.held) {
				t.Errorf("held %v, want %v", got, tc.held)
			}
			held := checkBudget(t, b)
			if held > tc.limit {
				t.Errorf("held %d bytes, above the budget of %d", held, tc.limit)
			}
			if got := b.lost.Load(); got != tc.lost {
				t.Errorf("lost %d events, want %d", got, tc.lost)
			}
			var evicted uint64
			for _, s := range streams {
				evicted += s.evicted
			}
			if evicted != uint64(tc.lost) {
				t.Errorf("streams count %d events evicted undelivered, want %d", evicted, tc.lost)
			}
			warned := logs.FilterMessageSnippet("replay_budget reached").FilterField(zap.Int64("lost_events", tc.lost))
			if (tc.lost > 0) != (warned.Len() == 1) {
				t.Errorf("lost %d events, warnings %v", tc.lost, logs.All())
			}
		})
	}
}

// TestReplayBudgetResumeMisses: a stream the budget emptied reports what
// a resume missed, instead of replaying nothing without a word.
func TestReplayBudgetResumeMisses(t *testing.T) {
	t.Parallel()
	b := newReplayBudget(zap.NewNop())
	st := b.newStream(1, replayLimits{events: 100, bytes: 1 << 20})
	for i := 1; i <= 3; i++ {
		st.append(note(t, i, 100))
	}
	b.setLimit(50)
	res := st.read(0, nil)
	if len(res.events) != 0 || res.missed != 3 {
		t.Errorf("read from 0: %d events, missed %d; want 0 events, missed 3", len(res.events), res.missed)
	}
	if res := st.read(3, nil); res.missed != 0 || len(res.events) != 0 {
		t.Errorf("read from the last event: %d events, missed %d; want none", len(res.events), res.missed)
	}
	b.setLimit(1000)
	st.append(note(t, 4, 60))
	res = st.read(1, nil)
	if res.missed != 2 || !eqSeqs(seqs(res.events), 4) {
		t.Errorf("read from 1: %v missed %d; want [4] missed 2", seqs(res.events), res.missed)
	}
}

// TestReplayBudgetBoundsTotal: whatever the mix of streams — with readers
// or not, delivered or not, trimmed by their own bound, released — the
// total held never exceeds the budget after an append, and the accounting
// matches the buffers at every step.
func TestReplayBudgetBoundsTotal(t *testing.T) {
	t.Parallel()
	const limit = 10_000
	b := newReplayBudget(zap.NewNop())
	b.setLimit(limit)
	rng := rand.New(rand.NewPCG(1, 2))
	var streams []*stream
	for i := range 40 {
		st := b.newStream(uint64(i), replayLimits{events: 20, bytes: 4000})
		if i%4 == 0 {
			defer st.detach(st.attach())
		}
		streams = append(streams, st)
	}
	for i := range 3000 {
		st := streams[rng.IntN(len(streams))]
		if i%500 == 499 {
			// A stream leaves its session; a fresh one takes its place.
			st.close()
			st.release()
			idx := slices.Index(streams, st)
			streams[idx] = b.newStream(uint64(100+i), replayLimits{events: 20, bytes: 4000})
			continue
		}
		st.append(note(t, i, 60+rng.IntN(400)))
		if rng.IntN(3) == 0 {
			st.markDelivered(st.nextSeqForTest() - 1)
		}
		if held := checkBudget(t, b); held > limit {
			t.Fatalf("after append %d: held %d bytes, above the budget of %d", i, held, limit)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	for _, st := range streams {
		st.close()
		st.release()
	}
	if held := checkBudget(t, b); held != 0 {
		t.Errorf("every stream released, the budget still holds %d bytes", held)
	}
}

// TestReplayBudgetConcurrent: producers appending at once keep the total
// within the budget once they are done, and the accounting exact.
func TestReplayBudgetConcurrent(t *testing.T) {
	t.Parallel()
	const limit = 20_000
	b := newReplayBudget(zap.NewNop())
	b.setLimit(limit)
	var wg sync.WaitGroup
	for p := range 8 {
		wg.Go(func() {
			own := b.newStream(uint64(p), replayLimits{events: 512, bytes: 1 << 20})
			for i := range 400 {
				own.append(note(t, i, 60+(i*37)%300))
				if i%3 == 0 {
					own.markDelivered(uint64(i))
				}
			}
		})
	}
	wg.Wait()
	if held := checkBudget(t, b); held > limit {
		t.Errorf("held %d bytes, above the budget of %d", held, limit)
	}
}

// nextSeqForTest returns the seq the stream's next event gets.
func (s *stream) nextSeqForTest() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextSeq
}
