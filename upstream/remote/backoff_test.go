package remote

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	var b backoff
	prevMax := time.Duration(0)
	for i := range 12 {
		d := b.next()
		nominal := min(backoffMin<<i, backoffMax)
		if d < nominal/2 || d > nominal {
			t.Fatalf("attempt %d: %s outside [%s, %s]", i, d, nominal/2, nominal)
		}
		prevMax = max(prevMax, d)
	}
	if prevMax > backoffMax {
		t.Fatalf("delay %s above the cap", prevMax)
	}
	b.reset()
	if d := b.next(); d > backoffMin {
		t.Fatalf("after reset: %s", d)
	}
	// The server's retry hint: as given after progress, at least the
	// backoff without.
	b = backoff{n: 10}
	if d := reconnectDelay(&b, 20*time.Millisecond, true); d != 20*time.Millisecond {
		t.Fatalf("retry after progress: %s", d)
	}
	b = backoff{n: 10}
	if d := reconnectDelay(&b, 20*time.Millisecond, false); d < backoffMax/2 {
		t.Fatalf("retry without progress: %s, want the backoff", d)
	}
}
