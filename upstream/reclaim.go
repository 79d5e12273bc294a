package upstream

import (
	"context"

	"github.com/caddy-mcp/caddy-mcp/pool"
)

// WithReclaim returns a context that lets stdio.Upstream.Open (and the shared
// processes' start) on a full pool call reclaim to free a process: reclaim
// should synchronously end one idle session of the caller's — its
// connection's Close releases the process — and report whether it did. See
// pool.WithReclaim for when it is called; at most once per slot a waiter
// needs. Upstreams without a process pool ignore it.
func WithReclaim(ctx context.Context, reclaim func() bool) context.Context {
	return pool.WithReclaim(ctx, reclaim)
}

// Reclaim asks the caller of Open, through ctx, to give up an idle session
// (see WithReclaim), for an upstream at capacity that is not a process pool,
// and reports whether it did; false when ctx carries no such offer.
func Reclaim(ctx context.Context) bool { return pool.Reclaim(ctx) }
