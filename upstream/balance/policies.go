package balance

import (
	"context"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"sync/atomic"
)

// First selects the first available member in configuration order: the
// others are fallbacks.
type First struct{}

// Select returns the first member.
func (First) Select(_ context.Context, available []*Member) *Member { return available[0] }

// turnTaker is a Policy whose choice depends on its own past choices (a
// turn counter). A group keeps a fresh one for 2026-07-28 requests, so
// that those — the server/discover a dual-era client sends before its
// initialize among them — never take a session's turn.
type turnTaker interface {
	Policy
	fresh() Policy
}

// RoundRobin takes the available members in turn.
type RoundRobin struct{ next atomic.Uint64 }

func (p *RoundRobin) fresh() Policy { return new(RoundRobin) }

// Select returns the next member in turn.
func (p *RoundRobin) Select(_ context.Context, available []*Member) *Member {
	n := p.next.Add(1) - 1
	return available[n%uint64(len(available))]
}

// Random selects a member at random.
type Random struct{}

// Select returns a random member.
func (Random) Select(_ context.Context, available []*Member) *Member {
	return available[rand.IntN(len(available))]
}

// LeastSessions selects the member with the fewest live sessions; ties go
// to the one first in configuration order. For 2026-07-28 requests, which
// hold no session, it is First among the least loaded.
type LeastSessions struct{}

// Select returns the least loaded member.
func (LeastSessions) Select(_ context.Context, available []*Member) *Member {
	best := available[0]
	for _, m := range available[1:] {
		if m.Sessions() < best.Sessions() {
			best = m
		}
	}
	return best
}

// WeightedRoundRobin takes the members in turn, each as often as its
// weight, by the name of the member (a member out of service gives up its
// turns to the others).
type WeightedRoundRobin struct {
	weights map[string]int
	next    atomic.Uint64
}

// NewWeightedRoundRobin returns the policy for the given weights by member
// name; a member without a weight has weight 1, a weight of 0 takes no
// turns while another member is available.
func NewWeightedRoundRobin(weights map[string]int) (*WeightedRoundRobin, error) {
	p := &WeightedRoundRobin{weights: weights}
	for _, w := range weights {
		if w < 0 {
			return nil, errors.New("balance: weights must not be negative")
		}
	}
	return p, nil
}

func (p *WeightedRoundRobin) fresh() Policy { return &WeightedRoundRobin{weights: p.weights} }

func (p *WeightedRoundRobin) weight(m *Member) int {
	if w, ok := p.weights[m.name]; ok {
		return w
	}
	return 1
}

// Select returns the member whose turn it is among the available ones.
func (p *WeightedRoundRobin) Select(_ context.Context, available []*Member) *Member {
	total := 0
	for _, m := range available {
		total += p.weight(m)
	}
	if total == 0 {
		return available[0]
	}
	n := int((p.next.Add(1) - 1) % uint64(total))
	for _, m := range available {
		if n -= p.weight(m); n < 0 {
			return m
		}
	}
	return available[len(available)-1]
}

// Hash selects by a key of the client request (its address, a header):
// the same key goes to the same member while the available members stay
// the same (rendezvous hashing, so a member's loss moves only its own keys).
// An empty key selects at random.
type Hash struct {
	// Key returns the request's key.
	Key func(ctx context.Context) string
}

// Select returns the member the key hashes to.
func (p Hash) Select(ctx context.Context, available []*Member) *Member {
	key := p.Key(ctx)
	if key == "" {
		return Random{}.Select(ctx, available)
	}
	var best *Member
	var bestScore uint64
	for _, m := range available {
		h := fnv.New64a()
		h.Write([]byte(m.name))
		h.Write([]byte{0})
		h.Write([]byte(key))
		if s := mix64(h.Sum64()); best == nil || s > bestScore {
			best, bestScore = m, s
		}
	}
	return best
}

// mix64 is splitmix64's finalizer: FNV-1a mixes its last bytes into the
// low bits only, so keys that differ at the end (10.0.0.1, 10.0.0.2)
// would all rank the members alike without it.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Interface guards.
var (
	_ Policy = First{}
	_ Policy = (*RoundRobin)(nil)
	_ Policy = Random{}
	_ Policy = LeastSessions{}
	_ Policy = (*WeightedRoundRobin)(nil)
	_ Policy = Hash{}

	_ turnTaker = (*RoundRobin)(nil)
	_ turnTaker = (*WeightedRoundRobin)(nil)
)
