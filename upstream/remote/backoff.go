package remote

import (
	"context"
	"math/rand/v2"
	"time"
)

// Reconnect delays for the upstream's SSE streams: exponential from
// backoffMin, doubling up to backoffMax, with jitter so that many sessions
// cut at once do not come back in lockstep.
const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 10 * time.Second
	// maxRetryHint caps the server's retry hint, so a bogus one cannot
	// park a stream (and the request slot it holds) for hours.
	maxRetryHint = time.Minute
)

// backoff computes reconnect delays. The zero value starts at backoffMin.
type backoff struct {
	n int // attempts since the last reset
}

// next returns the delay before the next attempt: the nominal delay
// min·2ⁿ (capped at max) drawn uniformly from its upper half.
func (b *backoff) next() time.Duration {
	d := backoffMax
	if b.n < 20 {
		d = min(backoffMin<<b.n, backoffMax)
	}
	b.n++
	half := d / 2
	return half + rand.N(half+1)
}

// reset starts over after a connection that made progress.
func (b *backoff) reset() { b.n = 0 }

// reconnectDelay picks the wait before re-opening a stream. The server's
// retry hint (0 if none) is honoured as given after a connection that made
// progress (up to maxRetryHint); after one that did not, the longer of the
// hint and the backoff applies, so a server that keeps closing at once is
// not hammered.
func reconnectDelay(b *backoff, retry time.Duration, progress bool) time.Duration {
	if progress {
		b.reset()
	}
	d := b.next()
	retry = min(retry, maxRetryHint)
	if retry > 0 {
		if progress {
			return retry
		}
		return max(d, retry)
	}
	return d
}

// sleep waits for d or until ctx is done; it reports whether the full delay
// passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
