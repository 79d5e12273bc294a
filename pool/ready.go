package pool

import (
	"errors"
	"io"
	"os"
	"slices"
	"time"

	"go.uber.org/zap"
)

// A new spare with a Config.Ready check is "warming" until the check is
// done: it holds its slot and counts as a spawn in flight. Acquire prefers a
// ready spare; with none, it takes the warming spare that started first —
// closer to ready than a cold spawn, which would also load beside it on the
// same cores. The session's writes to stdin and reads of stdout wait until
// the check has read the answer to its ping: a server may answer requests out
// of order, so nothing of the session's may reach it before then. A check
// that fails stops a spare nobody took; a taken one is left to its owner, who
// then sees it exit or misbehave as it would after a cold spawn.

// warmUpLocked starts the Ready check of pr, just spawned as a spare, on a
// goroutine of its own. Called with p.mu held, by the keeper, whose count on
// p.wg covers the Add.
func (p *Pool) warmUpLocked(pr *Process) {
	pr.warmed = make(chan struct{})
	p.warming = append(p.warming, pr)
	p.wg.Add(1)
	go p.warmUp(pr, p.cfg.Ready, p.cfg.ReadyTimeout)
}

// warmUp runs the Ready check and then makes pr a spare, or stops it.
func (p *Pool) warmUp(pr *Process, ready func(io.Writer, io.Reader) error, timeout time.Duration) {
	defer p.wg.Done()
	began := time.Now()
	err := checkReady(pr, ready, timeout)
	close(pr.warmed) // the owner, if any, reads on from here
	timedOut := errors.Is(err, os.ErrDeadlineExceeded)

	p.mu.Lock()
	p.spawning--
	if i := slices.Index(p.warming, pr); i >= 0 {
		p.warming = slices.Delete(p.warming, i, i+1)
	}
	if timedOut {
		p.readyOff = true
	}
	switch {
	case pr.reaped:
		// It died during the check; reaped() already backed off.
		p.mu.Unlock()
		p.kick()
		return
	case pr.state == stateStopping:
		// Close or its owner's Release stops it.
		p.mu.Unlock()
		return
	case pr.state == stateAssigned:
		// Acquire took it while it warmed: its owner has it now.
		p.mu.Unlock()
		if err != nil {
			pr.log.Warn("a spare taken while warming failed its readiness check", zap.Error(err))
		}
		return
	case err != nil:
		if !timedOut {
			p.failedLocked()
			p.readyFailed++
		}
		p.beginStopLocked(pr, ExitUnready)
		p.wg.Add(1) // the process's waiter holds a count, so this is safe
		p.mu.Unlock()
		if timedOut {
			pr.log.Warn("a new spare did not answer a ping before initialize in time; later spares are used unchecked",
				zap.Duration("ready_timeout", timeout))
		} else {
			pr.log.Warn("a new spare failed its readiness check", zap.Error(err))
		}
		go p.stop(pr)
		p.kick()
		return
	}
	p.addSpareLocked(pr)
	p.mu.Unlock()
	p.kick() // a SetLimits may have made it surplus meanwhile
	pr.log.Debug("spare ready", zap.Duration("after", time.Since(began)))
}

// checkReady runs a Config.Ready check on pr's pipes within timeout.
func checkReady(pr *Process, ready func(io.Writer, io.Reader) error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	_ = pr.stdin.SetWriteDeadline(deadline)
	_ = pr.stdout.SetReadDeadline(deadline)
	err := ready(pr.stdin, pr.stdout)
	_ = pr.stdin.SetWriteDeadline(time.Time{})
	_ = pr.stdout.SetReadDeadline(time.Time{})
	return err
}

// takeWarmingLocked hands the warming spare that started first to an
// Acquire that found no ready spare, or returns nil.
func (p *Pool) takeWarmingLocked() *Process {
	if len(p.warming) == 0 {
		return nil
	}
	pr := p.warming[0]
	p.warming = p.warming[1:]
	pr.state, pr.handedOut = stateAssigned, true
	p.assigned++
	return pr
}
