package front

import (
	"sync"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/seal"
)

// replayLimits bound one stream's replay buffer.
type replayLimits struct {
	events int
	bytes  int
}

// event is one buffered server message with its sequence number.
type event struct {
	seq   uint64
	msg   *pipeline.Message
	stamp uint64 // append order across the store's streams (budget.go)
}

// stream is one SSE stream of a session — the standalone GET stream or the
// stream answering one POST — and its bounded replay buffer. The buffer is
// the only outbound queue: the upstream reader appends and never blocks; a
// writer tails the buffer from a cursor, so a resume is "tail from an
// offset". When the buffer is full the oldest events are evicted; a reader
// that had not yet sent them skips ahead and the loss is counted.
type stream struct {
	index  uint64
	limits replayLimits

	mu        sync.Mutex
	events    []event
	size      int                // bytes held
	nextSeq   uint64             // seq of the next event; the first is 1, 0 is the priming event
	closed    bool               // no more events will come
	pending   int                // requests whose responses this POST stream still waits for
	wake      chan struct{}      // made by the first read that may wait, closed and dropped by signalLocked
	reader    chan struct{}      // closed to tell the current reader to yield
	delivered uint64             // highest seq written to some reader
	evicted   uint64             // events evicted before any reader wrote them
	sse       bool               // a stage holds a request of this stream: answer it as SSE at once (stages_inbound.go)
	ask       *seal.EventRequest // in a cluster, the one request this POST stream answers; severalAsks: more (clusterresume.go)

	budget   *replayBudget // the store's bound on all buffers; nil: none
	charged  bool          // registered with budget
	released bool          // left its session: no longer charged

	// first holds the first event, which for most POST streams (one
	// request, one response) is the only one: no array of its own.
	first [1]event
}

func newStream(index uint64, limits replayLimits) *stream {
	s := &stream{index: index, limits: limits, nextSeq: 1}
	s.events = s.first[:0]
	return s
}

// closedWake is the wake channel of a closed stream, which changes no more:
// readers of a closed stream finish instead of waiting.
var closedWake = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// append adds m to the buffer. It reports false if the stream is closed.
func (s *stream) append(m *pipeline.Message) bool {
	s.mu.Lock()
	ok := s.appendLocked(m)
	s.mu.Unlock()
	s.budget.enforce()
	return ok
}

func (s *stream) appendLocked(m *pipeline.Message) bool {
	if s.closed {
		return false
	}
	before := s.size
	s.events = append(s.events, event{seq: s.nextSeq, msg: m, stamp: s.budget.stamp()})
	s.nextSeq++
	s.size += len(m.Raw)
	for len(s.events) > 1 && (len(s.events) > s.limits.events || s.size > s.limits.bytes) {
		old := s.events[0]
		if old.seq > s.delivered {
			s.evicted++
		}
		s.size -= len(old.msg.Raw)
		s.events[0] = event{}
		s.events = s.events[1:]
	}
	s.chargeLocked(s.size - before)
	s.signalLocked()
	return true
}

// expect notes that one more response will arrive on this stream.
func (s *stream) expect() {
	s.mu.Lock()
	s.pending++
	s.mu.Unlock()
}

// respond appends a response (m may be nil when a request ended without
// one, e.g. after a cancellation) and closes the stream when it was the last
// one this stream waited for — both under one lock, so a reader sees the
// response and the end together.
func (s *stream) respond(m *pipeline.Message) {
	s.mu.Lock()
	defer s.budget.enforce() // after the unlock below
	defer s.mu.Unlock()
	if m != nil {
		s.appendLocked(m)
	}
	if s.pending > 0 {
		s.pending--
	}
	if s.pending == 0 {
		s.closeLocked()
	}
}

// close ends the stream: readers finish once they have sent what is held.
func (s *stream) close() {
	s.mu.Lock()
	s.closeLocked()
	s.mu.Unlock()
}

func (s *stream) closeLocked() {
	if !s.closed {
		s.closed = true
		s.signalLocked()
	}
}

// signalLocked wakes the readers waiting for a change. The channel is made
// only when a reader may wait (read), so a stream whose answer comes before
// anyone waits — and the signals no one waits for — make none.
func (s *stream) signalLocked() {
	if s.wake != nil {
		close(s.wake)
		s.wake = nil
	}
}

// attach makes the caller the stream's only reader and returns a channel
// that is closed when another reader takes over.
func (s *stream) attach() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reader != nil {
		close(s.reader)
	}
	s.reader = make(chan struct{})
	return s.reader
}

// detach gives up the reader role if takenOver (what its attach returned)
// is still the current one.
func (s *stream) detach(takenOver <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reader != nil && (<-chan struct{})(s.reader) == takenOver {
		s.reader = nil
	}
}

// readResult is what one look at the buffer yields.
type readResult struct {
	events []event
	done   bool            // closed, and nothing after the cursor is left
	wake   <-chan struct{} // closed when something changes
	missed uint64          // events after the cursor that were evicted
	sse    bool            // answer as SSE at once (answerAsSSE)
}

// read copies the events after cursor into buf[:0].
func (s *stream) read(cursor uint64, buf []event) readResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wake == nil && !s.closed {
		s.wake = make(chan struct{})
	}
	res := readResult{wake: s.wake}
	if s.closed {
		res.wake = closedWake
	}
	i := 0
	// The replay budget may have emptied the buffer: then everything
	// before nextSeq is gone.
	first := s.nextSeq
	if len(s.events) > 0 {
		first = s.events[0].seq
	}
	switch {
	case cursor+1 < first:
		res.missed = first - cursor - 1
	case cursor+1-first < uint64(len(s.events)):
		i = int(cursor + 1 - first)
	default:
		i = len(s.events)
	}
	if i < len(s.events) {
		res.events = append(buf[:0], s.events[i:]...)
	}
	res.done = s.closed
	res.sse = s.sse
	return res
}

// answerAsSSE makes the POST that reads this stream answer as an SSE
// stream now, not as one JSON answer later: a stage holds one of its
// requests, and keep-alive comments and progress can flow meanwhile.
func (s *stream) answerAsSSE() {
	s.mu.Lock()
	if !s.sse {
		s.sse = true
		s.signalLocked()
	}
	s.mu.Unlock()
}

// markDelivered records that a reader wrote everything up to seq.
func (s *stream) markDelivered(seq uint64) {
	s.mu.Lock()
	if seq > s.delivered {
		s.delivered = seq
	}
	s.mu.Unlock()
}

// deliveredSeq is where a new reader without Last-Event-ID starts.
func (s *stream) deliveredSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delivered
}

// lastSeq is the sequence number of the last event appended (0, the
// priming event's, before any): no event id names a later one.
func (s *stream) lastSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextSeq - 1
}

// isClosed reports whether the stream has ended.
func (s *stream) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
