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

// beginSettling marks pr, just taken from the spares, as holding back its
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

// stdinWriter is the Stdin a process's owner writes: it waits for a Ready
// check still under way (ready.go). Servers may answer requests out of order
// (the go-sdk handles calls concurrently), so the owner's first message must
// not reach the server before the check's ping has been answered.
type stdinWriter struct{ pr *Process }

func (w stdinWriter) Write(b []byte) (int, error) {
	if c := w.pr.warmed; c != nil {
		<-c
	}
	return w.pr.stdin.Write(b)
}

// Close closes the child's stdin: the owner's way to signal EOF.
func (w stdinWriter) Close() error {
	w.pr.closeStdin()
	return nil
}

// stdoutReader is the Stdout a process's owner reads: it waits for a Ready
// check still reading the process's first answer (ready.go), and its first
// bytes settle the process.
type stdoutReader struct{ pr *Process }

func (r stdoutReader) Read(b []byte) (int, error) {
	if w := r.pr.warmed; w != nil {
		<-w
	}
	n, err := r.pr.stdout.Read(b)
	if n > 0 && r.pr.settling.Load() {
		r.pr.settle()
	}
	return n, err
}
