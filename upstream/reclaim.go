package upstream

import "context"

type reclaimKey struct{}

// WithReclaim returns a context for Open that lets an upstream at capacity
// ask its caller to give some up: reclaim ends one idle session of the
// caller's on this upstream (whose connection then closes and frees what it
// held) and reports whether it did. A stdio upstream asks when every process
// of its pool is in use.
func WithReclaim(ctx context.Context, reclaim func() bool) context.Context {
	return context.WithValue(ctx, reclaimKey{}, reclaim)
}

// Reclaim asks the caller of Open, through ctx, to give up an idle session,
// and reports whether it did; false when ctx carries no such offer.
func Reclaim(ctx context.Context) bool {
	f, _ := ctx.Value(reclaimKey{}).(func() bool)
	return f != nil && f()
}
