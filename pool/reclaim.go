package pool

import "context"

// A full pool can ask the caller of Acquire to give a process back: the
// front ends its least recently used idle session, whose process is then
// released and stopped, and the Acquire takes the slot once the child is
// reaped. The pool knows nothing of sessions; it only decides when to ask.
//
// The rule that keeps one Acquire from evicting many sessions: Acquire asks
// only when it found no spare, no warming spare and no free slot, and more
// Acquires wait than processes are already stopping (Stats.Stopping: their
// slots are on their way, one per waiter). It asks at most once per change
// of the pool's state (a slot freed, a spare ready, new limits): a reclaim
// that released something made a process stopping, which then covers this
// waiter; one that released nothing is not asked again until the pool
// changed. If another caller takes the freed slot first, the waiter may ask
// again — once per freed slot.

// reclaimKey is the context key of WithReclaim.
type reclaimKey struct{}

// WithReclaim returns a context that lets Acquire on a full pool call
// reclaim to free a slot. reclaim runs on Acquire's goroutine, outside the
// pool's lock; it should synchronously release a process it owns (ending
// an idle session) and report whether it released one. Acquire then waits
// for the slot as usual, bounded by AcquireTimeout.
func WithReclaim(ctx context.Context, reclaim func() bool) context.Context {
	return context.WithValue(ctx, reclaimKey{}, reclaim)
}

// reclaimFrom returns the reclaim function of ctx, or nil.
func reclaimFrom(ctx context.Context) func() bool {
	f, _ := ctx.Value(reclaimKey{}).(func() bool)
	return f
}

// Reclaim calls the reclaim function ctx carries, as Acquire does at a full
// pool, and reports whether it freed something; false when ctx carries none.
func Reclaim(ctx context.Context) bool {
	f := reclaimFrom(ctx)
	return f != nil && f()
}
