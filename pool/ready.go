package pool

import (
	"errors"
	"os"
	"slices"
	"time"

	"go.uber.org/zap"
)

// A new spare with a Config.Ready check is "warming" until the check is
// done: it holds its slot and counts as a spawn in flight, but Acquire does
// not hand it out. A spare that would be handed out before its server
// listens (an npx or uvx server can take seconds to load) would only make the
// session wait as long as a cold spawn; one that never answers would make it
// wait for nothing.

// warmUpLocked starts the Ready check of pr, just spawned as a spare, on a
// goroutine of its own. Called with p.mu held, by the keeper, whose count on
// p.wg covers the Add.
func (p *Pool) warmUpLocked(pr *Process) {
	p.warming = append(p.warming, pr)
	p.wg.Add(1)
	go p.warmUp(pr)
}

// warmUp runs the Ready check and then makes pr a spare, or stops it.
func (p *Pool) warmUp(pr *Process) {
	defer p.wg.Done()
	began := time.Now()
	err := p.checkReady(pr)

	p.mu.Lock()
	p.spawning--
	if i := slices.Index(p.warming, pr); i >= 0 {
		p.warming = slices.Delete(p.warming, i, i+1)
	}
	switch {
	case pr.reaped:
		// It died during the check; reaped() already backed off.
		p.mu.Unlock()
		p.kick()
		return
	case pr.state == stateStopping:
		// Close took it.
		p.mu.Unlock()
		return
	case err != nil:
		timedOut := errors.Is(err, os.ErrDeadlineExceeded)
		if timedOut {
			p.readyOff = true
		} else {
			p.failedLocked()
		}
		pr.state = stateStopping
		p.wg.Add(1) // the process's waiter holds a count, so this is safe
		p.mu.Unlock()
		if timedOut {
			pr.log.Warn("a new spare did not answer a ping before initialize in time; later spares are used unchecked",
				zap.Duration("ready_timeout", p.cfg.ReadyTimeout))
		} else {
			pr.log.Warn("a new spare failed its readiness check", zap.Error(err))
		}
		go p.stop(pr)
		p.kick()
		return
	}
	p.addSpareLocked(pr)
	p.mu.Unlock()
	pr.log.Debug("spare ready", zap.Duration("after", time.Since(began)))
}

// checkReady runs Config.Ready on pr's pipes within Config.ReadyTimeout.
func (p *Pool) checkReady(pr *Process) error {
	deadline := time.Now().Add(p.cfg.ReadyTimeout)
	_ = pr.stdin.SetWriteDeadline(deadline)
	_ = pr.stdout.SetReadDeadline(deadline)
	err := p.cfg.Ready(pr.stdin, pr.stdout)
	_ = pr.stdin.SetWriteDeadline(time.Time{})
	_ = pr.stdout.SetReadDeadline(time.Time{})
	return err
}
