package front

import (
	"container/heap"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// Each stream's replay buffer is bounded (replay_buffer), but an endpoint
// holds up to max_sessions sessions, each with a GET stream and up to
// retainedStreams finished POST streams: bounded per stream, unbounded in
// total. A replayBudget bounds the total (replay_budget). It belongs to the
// Store, so it outlives reloads as the sessions do.
//
// Accounting. A stream charges the raw bytes of each event it takes and
// credits them when the event leaves its buffer (the per-stream bound, the
// budget's trimming) or when the stream leaves its session (pruned,
// forgotten, session ended: release). That is one atomic add per append;
// the only lock taken is the budget's registry lock, once per stream when
// it first charges and once when it is released. Invariant: used is the
// sum of size over the registered streams.
//
// Trimming. When an append leaves the total above the budget, the bytes go
// back down to lowWater (7/8 of the budget, so the next pass comes only
// after another eighth of the budget was appended, not on every append),
// oldest events first, in this order of preference:
//
//  1. events already delivered, of streams no reader is attached to;
//  2. any event of streams no reader is attached to — the undelivered ones
//     count as missed, exactly as the per-stream bound's evictions do: the
//     stream's evicted counter, and the warning a resuming client's reader
//     logs (Server.logMissed);
//  3. events already delivered, of streams a reader is attached to (only a
//     later resume from before them misses them);
//  4. any event of streams a reader is attached to: its reader skips ahead
//     and logs the miss.
//
// Steps 3 and 4 run only when nothing else is left. They keep memory
// bounded when every held byte belongs to an attached reader whose client
// does not read (a reader blocked on a stalled connection would otherwise
// pin its backlog for as long as the connection lives), and nothing waits:
// an append never blocks, and a reader that finds its events gone reports
// the miss and goes on (a POST stream whose response went ends without it,
// and its client sees the stream end).
//
// Where the pass runs. In the goroutine of the append that crossed the
// budget, after that append released its stream's lock, one pass at a time
// (a second append over the budget meanwhile leaves the work to the
// running pass, which rereads the total before it ends). Why not a
// background worker: the memory stays bounded by the budget plus what other
// producers append during one pass, not by how soon a worker is scheduled;
// the producer that makes the pressure pays for it, which slows exactly
// that upstream reader; and there is no goroutine to own. A pass never
// scans sessions and never takes the store's or a session's lock: it walks
// the budget's own registry of streams, taking one stream lock at a time
// and never while holding the registry lock (lock order: stream, then
// registry), so it cannot invert the store → session → stream order. Its
// cost is one look at each charged stream plus O(log streams) per stream
// visit, and it only considers events appended before it started, so
// producers appending meanwhile cannot keep it running.
type replayBudget struct {
	limit    atomic.Int64  // bytes; 0 = no budget
	used     atomic.Int64  // raw bytes held by registered streams
	clock    atomic.Uint64 // stamps events in append order across streams
	lost     atomic.Int64  // undelivered events dropped for the budget
	trimming atomic.Bool   // a pass is running
	logger   *zap.Logger

	mu      sync.Mutex
	streams map[*stream]struct{} // streams that charged and are not released
}

func newReplayBudget(logger *zap.Logger) *replayBudget {
	return &replayBudget{logger: logger, streams: make(map[*stream]struct{})}
}

// newStream returns a stream that charges this budget (none if b is nil).
func (b *replayBudget) newStream(index uint64, limits replayLimits) *stream {
	st := newStream(index, limits)
	st.budget = b
	return st
}

// setLimit changes the budget; a lower one applies at once.
func (b *replayBudget) setLimit(limit int64) {
	b.limit.Store(limit)
	b.enforce()
}

// stamp returns the next append-order stamp (0 without a budget).
func (b *replayBudget) stamp() uint64 {
	if b == nil {
		return 0
	}
	return b.clock.Add(1)
}

// chargeLocked accounts for delta bytes more (or fewer) held by s. Called
// with s.mu held.
func (s *stream) chargeLocked(delta int) {
	b := s.budget
	if b == nil || s.released {
		return
	}
	if !s.charged {
		s.charged = true
		b.mu.Lock()
		b.streams[s] = struct{}{}
		b.mu.Unlock()
	}
	if delta != 0 {
		b.used.Add(int64(delta))
	}
}

// release credits everything s holds and stops charging for it: s left its
// session (pruned, forgotten, or the session ended). A reader still
// attached may drain what is held; that is bounded by the per-stream bound
// and goes when the reader does.
func (s *stream) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return
	}
	s.released = true
	if s.charged {
		b := s.budget
		b.used.Add(-int64(s.size))
		b.mu.Lock()
		delete(b.streams, s)
		b.mu.Unlock()
	}
}

// enforce runs a trimming pass if the total is above the budget and no pass
// is running. Called with no lock held.
func (b *replayBudget) enforce() {
	if b == nil {
		return
	}
	for {
		limit := b.limit.Load()
		if limit <= 0 || b.used.Load() <= limit {
			return
		}
		if !b.trimming.CompareAndSwap(false, true) {
			return // the running pass rereads the total before it ends
		}
		freed := b.pass(limit)
		b.trimming.Store(false)
		if freed == 0 {
			// Nothing is left to drop (what is held belongs to streams
			// being released); the next append tries again.
			return
		}
	}
}

// lowWater is where a pass brings the total back down to.
func lowWater(limit int64) int64 { return limit - limit/8 }

// trimStep is one preference of a pass (see the type's comment).
type trimStep struct {
	attached    bool // streams with a reader attached may lose events
	undelivered bool // events no reader wrote yet may go
}

var trimSteps = [...]trimStep{{false, false}, {false, true}, {true, false}, {true, true}}

// pass brings the total down to lowWater(limit) and returns the bytes it
// freed.
func (b *replayBudget) pass(limit int64) int64 {
	target := lowWater(limit)
	before := b.clock.Load() + 1 // events stamped from here on are newer than the pass
	b.mu.Lock()
	streams := make([]*stream, 0, len(b.streams))
	for s := range b.streams {
		streams = append(streams, s)
	}
	b.mu.Unlock()
	var freed, lost int64
	for _, step := range trimSteps {
		if b.used.Load() <= target {
			break
		}
		f, l := b.trimStep(streams, step, target, before)
		freed += f
		lost += l
	}
	if lost > 0 {
		b.lost.Add(lost)
		b.logger.Warn("replay_budget reached: dropped the oldest undelivered events of streams nobody listened to; clients that resume them miss them",
			zap.Int64("replay_budget", limit), zap.Int64("freed_bytes", freed), zap.Int64("lost_events", lost),
			zap.Int64("held_bytes", b.used.Load()))
	} else if ce := b.logger.Check(zap.DebugLevel, "replay_budget reached: dropped the oldest delivered events"); ce != nil {
		ce.Write(zap.Int64("replay_budget", limit), zap.Int64("freed_bytes", freed), zap.Int64("held_bytes", b.used.Load()))
	}
	return freed
}

// trimStep drops the events step allows, globally oldest first, until the
// total is at most target; only events stamped before `before` count.
func (b *replayBudget) trimStep(streams []*stream, step trimStep, target int64, before uint64) (freed, lost int64) {
	q := make(stampQueue, 0, len(streams))
	for _, s := range streams {
		if stamp, ok := s.oldestDroppable(step, before); ok {
			q = append(q, queued{stamp, s})
		}
	}
	heap.Init(&q)
	for q.Len() > 0 {
		excess := b.used.Load() - target
		if excess <= 0 {
			break
		}
		top := heap.Pop(&q).(queued)
		// Drop from this stream up to the next stream's oldest, so the
		// order across streams stays oldest first.
		until := before - 1
		if q.Len() > 0 && q[0].stamp < until {
			until = q[0].stamp
		}
		f, l, next, more := top.s.shed(step, until, excess)
		freed += f
		lost += l
		if more && next < before {
			heap.Push(&q, queued{next, top.s})
		}
	}
	return freed, lost
}

// allowsLocked reports whether step may take events of s at all.
func (step trimStep) allowsLocked(s *stream) bool {
	return !s.released && (step.attached || s.reader == nil)
}

// oldestDroppable returns the stamp of s's oldest event that step may drop.
func (s *stream) oldestDroppable(step trimStep, before uint64) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !step.allowsLocked(s) || len(s.events) == 0 {
		return 0, false
	}
	ev := s.events[0]
	if ev.stamp >= before || (!step.undelivered && ev.seq > s.delivered) {
		return 0, false
	}
	return ev.stamp, true
}

// shed drops s's oldest events that step allows, stamped at most until,
// until excess bytes are freed. It returns what it freed and lost and, if
// more such events are left, the stamp of the next.
func (s *stream) shed(step trimStep, until uint64, excess int64) (freed, lost int64, next uint64, more bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !step.allowsLocked(s) {
		return 0, 0, 0, false
	}
	n := 0
	for ; n < len(s.events) && freed < excess; n++ {
		ev := s.events[n]
		if ev.stamp > until || (!step.undelivered && ev.seq > s.delivered) {
			break
		}
		freed += int64(len(ev.msg.Raw))
		if ev.seq > s.delivered {
			lost++
		}
	}
	if n > 0 {
		clear(s.events[:n])
		s.events = s.events[n:]
		if len(s.events) == 0 {
			s.events = nil // let the backing array go too
		}
		s.size -= int(freed)
		s.evicted += uint64(lost)
		s.budget.used.Add(-freed)
	}
	if len(s.events) == 0 {
		return freed, lost, 0, false
	}
	ev := s.events[0]
	if !step.undelivered && ev.seq > s.delivered {
		return freed, lost, 0, false
	}
	return freed, lost, ev.stamp, true
}

// queued is a stream in a pass's queue, keyed by its oldest droppable
// event.
type queued struct {
	stamp uint64
	s     *stream
}

// stampQueue is a min-heap of streams by stamp.
type stampQueue []queued

func (q stampQueue) Len() int           { return len(q) }
func (q stampQueue) Less(i, j int) bool { return q[i].stamp < q[j].stamp }
func (q stampQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *stampQueue) Push(x any)        { *q = append(*q, x.(queued)) }
func (q *stampQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// held returns the bytes charged to the budget.
func (b *replayBudget) held() int64 { return b.used.Load() }
