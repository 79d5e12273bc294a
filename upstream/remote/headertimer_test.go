package remote

import (
	"context"
	"testing"
	"time"
)

// TestHeaderTimerReuse: a stopped header timer is used again for the next
// request and cancels only that one; a timer that fired cancels its own
// request with errNoHeaders and is not used again.
func TestHeaderTimerReuse(t *testing.T) {
	h := &HTTP{cfg: Config{ResponseHeaderTimeout: time.Hour}}
	first, cancelFirst := context.WithCancelCause(context.Background())
	defer cancelFirst(nil)
	ht := h.startHeaderTimer(cancelFirst)
	if !h.stopHeaderTimer(ht) {
		t.Fatal("a timer of an hour fired")
	}
	h.cfg.ResponseHeaderTimeout = time.Millisecond
	second, cancelSecond := context.WithCancelCause(context.Background())
	defer cancelSecond(nil)
	again := h.startHeaderTimer(cancelSecond)
	if again != ht {
		t.Log("sync.Pool dropped the stopped timer (as it may, under -race); checked with a new one")
	}
	<-second.Done()
	if cause := context.Cause(second); cause != errNoHeaders {
		t.Fatalf("the second request was cancelled with %v, want errNoHeaders", cause)
	}
	if first.Err() != nil {
		t.Fatal("the reused timer cancelled the first request")
	}
	if h.stopHeaderTimer(again) {
		t.Fatal("a timer that fired reports it was stopped")
	}
	if got, _ := h.headerTimers.Get().(*headerTimer); got == again {
		t.Fatal("a timer that fired went back to the pool")
	}
}
