package front

import "time"

// One client must not take a bound from everyone else. Evicting the least
// recently used idle session anywhere let one client's burst of sessions
// end other clients' sessions, and never touching a session with an open
// GET stream let one client that listens on as many sessions as a stdio
// pool has processes lock every other client out. So at a bound shared by
// all clients (max_sessions, max_processes) the bound is divided among the
// clients that hold sessions under it, the new session's client included,
// and a new session may end
//
//   - an idle session of its own client (no request in flight, no stream
//     open), or
//   - the least recently used session of a client holding more than its
//     share, even one whose client listens on its GET stream: listening is
//     not work in flight.
//
// A session with a request in flight is never ended, and neither is a new
// one (see spare).

// DefaultEvictionGrace is how long a new session is spared eviction after
// its upstream opened, and again after the client's
// notifications/initialized, unless the client sends another request
// first. A client's handshake (initialize, its answer, initialized) and its
// first request thus never lose the session they are building, and a
// client that never finishes its handshake holds nothing for long.
const DefaultEvictionGrace = 10 * time.Second

// fairShare is a bound divided among the clients that hold sessions under
// it and the client of the session that waits for room.
type fairShare struct {
	bound   int
	held    map[string]int // sessions under the bound, per client
	clients int            // the clients holding, plus the newcomer if it holds none
}

func newFairShare(bound int, held map[string]int, newcomer string) fairShare {
	n := len(held)
	if held[newcomer] == 0 {
		n++
	}
	return fairShare{bound: bound, held: held, clients: n}
}

// over reports whether client holds more than bound/clients (compared
// without rounding).
func (f fairShare) over(client string) bool {
	return f.held[client]*f.clients > f.bound
}

// full reports whether client holds its share or more while other clients
// share the bound: it is then the client, not the bound, that stands in
// its own way, and a refusal says so.
func (f fairShare) full(client string) bool {
	return f.clients > 1 && f.held[client]*f.clients >= f.bound
}

// spare keeps eviction away from the session for the store's grace.
func (s *Session) spare() {
	if g := s.store.grace.Load(); g > 0 {
		s.sparedUntil.Store(time.Now().UnixNano() + g)
	}
}

// handshakeDone records the client's notifications/initialized: the grace
// starts again, unless the client sent a request of its own already (the
// go-sdk opens its GET stream while its notification is on its way).
func (s *Session) handshakeDone() {
	s.handshook.Store(true)
	if s.usedEarly.Load() {
		s.sparedUntil.Store(0)
		return
	}
	s.spare()
}

// used records a request of the client's other than its handshake: once
// the handshake is done, the grace has done its work. A race with
// handshakeDone can only leave the session spared for the grace.
func (s *Session) used() {
	if !s.handshook.Load() {
		s.usedEarly.Store(true)
		return
	}
	if s.sparedUntil.Load() != 0 {
		s.sparedUntil.Store(0)
	}
}

// spared reports whether no eviction may take the session at now (unix
// nanoseconds).
func (s *Session) spared(now int64) bool { return now < s.sparedUntil.Load() }
