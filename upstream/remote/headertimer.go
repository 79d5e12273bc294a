package remote

import (
	"context"
	"sync"
	"time"
)

// headerTimer cancels a request whose response headers take longer than
// ResponseHeaderTimeout. Its time.Timer is made once and reset for the
// next request: a new AfterFunc per request was a timer and a closure each
// (issue 27).
type headerTimer struct {
	t      *time.Timer
	mu     sync.Mutex
	cancel context.CancelCauseFunc // the current request's; nil while pooled
}

// startHeaderTimer starts a header timer that cancels with errNoHeaders.
func (h *HTTP) startHeaderTimer(cancel context.CancelCauseFunc) *headerTimer {
	ht, _ := h.headerTimers.Get().(*headerTimer)
	if ht == nil {
		ht = &headerTimer{cancel: cancel}
		ht.t = time.AfterFunc(h.cfg.ResponseHeaderTimeout, ht.fire)
		return ht
	}
	ht.mu.Lock()
	ht.cancel = cancel
	ht.mu.Unlock()
	ht.t.Reset(h.cfg.ResponseHeaderTimeout)
	return ht
}

func (ht *headerTimer) fire() {
	ht.mu.Lock()
	cancel := ht.cancel
	ht.mu.Unlock()
	if cancel != nil {
		cancel(errNoHeaders)
	}
}

// stopHeaderTimer reports whether ht was stopped before it fired. Only a
// timer that did not fire is used again: one that did may still be
// cancelling its request.
func (h *HTTP) stopHeaderTimer(ht *headerTimer) bool {
	if !ht.t.Stop() {
		return false
	}
	ht.mu.Lock()
	ht.cancel = nil
	ht.mu.Unlock()
	h.headerTimers.Put(ht)
	return true
}
