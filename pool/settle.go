package pool

import "time"

// settleTimeout bounds how long a spare handed to a session holds back its
// replacement while the session waits for the process's first answer.
const settleTimeout = time.Second

// A spare taken by Acquire is replaced once the process has said something
// on stdout (in MCP, the answer to the session's initialize), or after
// settleTimeout, or when it is released or exits — whichever comes first.
// Starting the replacement at once would set a fresh process's start-up
// (a Go runtime, or a Node or Python interpreter loading a server) against
// the very first exchange the spare was kept warm for, on the same cores.
// Until then the process still counts toward Warm (Pool.settling).

// beginSettlingLocked marks pr, just taken from the spares, as holding back its
// replacement. Called with p.mu held.
func (p *Pool) beginSettlingLocked(pr *Process) {
	p.settling++
	pr.settling.Store(true)
	pr.settleTimer = time.AfterFunc(settleTimeout, pr.settle)
}

// settle lets the keeper replace pr. Safe to call any number of times, from
// any goroutine, also after Close.
func (pr *Process) settle() {
	if !pr.settling.CompareAndSwap(true, false) {
		return
	}
	p := pr.pool
	p.mu.Lock()
	p.settling--
	if pr.settleTimer != nil {
		pr.settleTimer.Stop()
	}
	p.mu.Unlock()
	p.kick()
}
