package pool

import (
	"time"

	"go.uber.org/zap"
)

// Backoff bounds for respawning spares whose command keeps failing.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// keep is the keeper goroutine started by Start. It keeps Warm spares ready
// and stops surplus spares that idled past IdleTimeout. It wakes on kick
// (a spare taken, a slot freed, a process exited), on its own timer (backoff,
// idle deadlines) and exits on Close.
func (p *Pool) keep() {
	defer p.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wake, ok := p.keepOnce()
		if !ok {
			return
		}
		if wake < 0 {
			continue // spawned one; see whether more are needed
		}
		// Since Go 1.23 Reset discards a stale tick: no drain needed.
		timer.Reset(wake)
		select {
		case <-p.quit:
			return
		case <-p.kickCh:
		case <-timer.C:
		}
	}
}

// keepOnce does one round of the keeper's work and returns how long to sleep
// before the next (negative: go again at once). ok is false once closed.
func (p *Pool) keepOnce() (wake time.Duration, ok bool) {
	now := time.Now()
	wake = time.Hour

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return 0, false
	}

	// Surplus spares are the oldest ones beyond Warm (Acquire takes the
	// newest). Stop those idle for IdleTimeout; sleep until the next one is.
	// Right after SetLimits lowered Warm (trim) or MaxProcesses (more slots
	// held than allowed, not counting those already stopping), stop the
	// surplus at once: the operator asked for fewer. Assigned processes are
	// never stopped for that; they leave when their sessions end.
	idleTimeout := p.cfg.IdleTimeout
	var idle []*Process
	stopOldest := func() {
		sp := p.spares[0]
		p.removeSpareLocked(sp)
		p.beginStopLocked(sp, ExitSurplus)
		p.wg.Add(1) // the spare's waiter holds a count, so this is safe
		idle = append(idle, sp)
	}
	for len(p.spares) > 0 && p.live-p.stopping > p.cfg.MaxProcesses {
		stopOldest()
	}
	if p.trim {
		p.trim = false
		for len(p.spares) > p.cfg.warmTarget() {
			stopOldest()
		}
	}
	for i := 0; i < len(p.spares)-p.cfg.warmTarget(); {
		sp := p.spares[i]
		if left := sp.idleSince.Add(idleTimeout).Sub(now); left > 0 {
			wake = min(wake, left)
			i++
			continue
		}
		p.removeSpareLocked(sp)
		p.beginStopLocked(sp, ExitSurplus)
		p.wg.Add(1) // the spare's waiter holds a count, so this is safe
		idle = append(idle, sp)
	}

	// Spawn a spare when short of Warm, a slot is free, and no Acquire is
	// waiting for that slot (it would otherwise race us for it).
	spawn := false
	if len(p.spares)+p.spawning+p.settling < p.cfg.warmTarget() && p.live < p.cfg.MaxProcesses && p.waiting == 0 {
		if left := p.retryAt.Sub(now); left > 0 {
			wake = min(wake, left)
		} else {
			spawn = true
			p.live++
			p.spawning++
		}
	}
	p.mu.Unlock()

	for _, sp := range idle {
		sp.log.Debug("stopping surplus spare", zap.Duration("idle_timeout", idleTimeout))
		go p.stop(sp)
	}
	if !spawn {
		return wake, true
	}
	p.spawnSpare()
	return -1, true
}

// spawnSpare starts one spare in a slot already reserved by keepOnce. The
// keeper's own count on p.wg covers the goroutines spawn starts.
func (p *Pool) spawnSpare() {
	pr, err := p.spawn(stateSpare)

	p.mu.Lock()
	p.spawning--
	switch {
	case err != nil:
		p.live--
		p.failedLocked()
		retry := p.backoff
		p.broadcastLocked()
		p.mu.Unlock()
		p.log.Warn("cannot start warm spare", zap.Error(err), zap.Duration("retry_in", retry))
		return
	case pr.reaped:
		// Died before we could register it; reaped() already backed off.
		p.mu.Unlock()
		return
	case p.closed:
		p.beginStopLocked(pr, ExitClosed)
		p.wg.Add(1)
		p.mu.Unlock()
		go p.stop(pr)
		return
	}
	if p.cfg.Ready != nil && !p.readyOff {
		p.spawning++ // until the check is done
		p.warmUpLocked(pr)
		p.mu.Unlock()
		return
	}
	p.addSpareLocked(pr)
	p.mu.Unlock()
}

// failedLocked records a failed or quickly dying spare: the next spare spawn
// waits 100ms, doubling up to 30s, so a broken command does not spin.
func (p *Pool) failedLocked() {
	if p.backoff == 0 {
		p.backoff = minBackoff
	} else {
		p.backoff = min(2*p.backoff, maxBackoff)
	}
	p.retryAt = time.Now().Add(p.backoff)
}
