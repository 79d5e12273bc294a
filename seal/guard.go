package seal

import (
	"errors"
	"sync"
	"time"
)

// ErrBusy is Guard.Check's answer when it remembers as many nonces as it
// may: the token may be good, but taking it would mean forgetting a nonce
// still fresh, which would let that token be replayed.
var ErrBusy = errors.New("seal: too many hop tokens in the replay window")

// Guard judges the hop tokens an instance receives: sealed by the ring for
// the request, made within Window of now (either way: instances' clocks
// differ a little), and not seen before. It remembers each nonce until its
// token is stale, in buckets by the second the token was issued, so that
// what it holds is bounded by the rate of forwarded requests times the
// window, and by max. Safe for concurrent use.
type Guard struct {
	window time.Duration
	max    int

	mu      sync.Mutex
	n       int                                    // nonces held
	seen    map[int64]map[[NonceSize]byte]struct{} // by the second their token was issued
	expired int64                                  // the second of the last sweep
}

// NewGuard returns a Guard that accepts tokens made within window of now
// and holds at most max nonces.
func NewGuard(window time.Duration, max int) *Guard {
	return &Guard{window: window, max: max, seen: make(map[int64]map[[NonceSize]byte]struct{})}
}

// Window is how far a token's time may be from the receiver's.
func (g *Guard) Window() time.Duration { return g.window }

// Check accepts token for a request of method naming sessionID, bound to
// b, at now: nil once (a second Check of the same token is ErrInvalid),
// ErrInvalid for a token that is forged, bound to anything else, or stale,
// ErrBusy when the guard is full.
func (g *Guard) Check(r *Ring, token string, b Binding, sessionID, method string, now time.Time) error {
	h, err := r.OpenHop(token, b, sessionID, method)
	if err != nil {
		return ErrInvalid
	}
	if age := now.Sub(h.Issued); age > g.window || age < -g.window {
		return ErrInvalid
	}
	sec := h.Issued.Unix()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sweep(now)
	bucket := g.seen[sec]
	if _, replayed := bucket[h.Nonce]; replayed {
		return ErrInvalid
	}
	if g.n >= g.max {
		return ErrBusy
	}
	if bucket == nil {
		bucket = make(map[[NonceSize]byte]struct{})
		g.seen[sec] = bucket
	}
	bucket[h.Nonce] = struct{}{}
	g.n++
	return nil
}

// sweep forgets, once a second, the nonces of tokens too old to be
// accepted again.
func (g *Guard) sweep(now time.Time) {
	s := now.Unix()
	if s == g.expired {
		return
	}
	g.expired = s
	// A bucket holds tokens issued in [sec, sec+1): stale once sec+1 is
	// more than window before now.
	stale := now.Add(-g.window).Unix() - 1
	for sec, bucket := range g.seen {
		if sec < stale {
			g.n -= len(bucket)
			delete(g.seen, sec)
		}
	}
}
