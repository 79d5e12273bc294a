package pool

import (
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// state is where a process stands in the pool; guarded by Pool.mu.
type state int

const (
	// stateSpare: started, unassigned, ready for Acquire (in Pool.spares once
	// the keeper registered it).
	stateSpare state = iota
	// stateAssigned: handed out by Acquire and not yet released.
	stateAssigned
	// stateStopping: the pool is stopping it (released, idle surplus, Close).
	stateStopping
)

// Process is one started child. Its owner (the session that acquired it)
// talks to it over Stdin and Stdout and must call Release when done.
type Process struct {
	pool    *Pool
	cmd     *exec.Cmd
	pid     int
	log     *zap.Logger
	started time.Time

	stdin  *os.File // parent's write end of the child's stdin
	stdout *os.File // parent's read end of the child's stdout
	stderr *os.File // parent's read end of the child's stderr

	closeStdinOnce  sync.Once
	try             *stdinTry       // TryWriteStdin's state, made on first use; callers serialize
	tryConn         syscall.RawConn // stdin's, for TryWriteStdin
	closeStdoutOnce sync.Once
	closeStderrOnce sync.Once

	settling    atomic.Bool   // taken from the spares, replacement held back (settle.go)
	settleTimer *time.Timer   // ends the hold-back; guarded by pool.mu
	warmed      chan struct{} // closed when its Ready check is over; nil if none ran (ready.go)

	exited     chan struct{} // closed by the waiter right after cmd.Wait returned
	stderrDone chan struct{} // closed by the stderr reader at EOF
	done       chan struct{} // closed once reaped and cleaned up
	err        error         // cmd.Wait's result; written before exited is closed

	// Guarded by pool.mu.
	state     state
	stopCause ExitCause // why the pool stopped it, once state is stateStopping
	handedOut bool      // Acquire returned it; its stdout then waits for Release
	released  bool      // Release was called
	endedOwn  bool      // Ended was called: its output ended before anyone asked it to stop
	reaped    bool      // the waiter finished
	idleSince time.Time // when it became a spare
}

// Stdin is the child's standard input. Writes go straight to the pipe (once
// a Ready check still under way is over); the pool closes it when the stop
// sequence starts, and the owner may close it earlier to signal EOF.
func (pr *Process) Stdin() io.WriteCloser { return stdinWriter{pr} }

// Stdout is the child's standard output. A reader sees EOF once the child
// and every process of its group closed it. The pool closes the read end
// only after the process was both reaped and released, so the owner can
// always read to EOF; reads after Release may fail with os.ErrClosed. The
// first bytes read from a process taken from the spares let the pool start
// its replacement (see settle.go).
func (pr *Process) Stdout() io.Reader { return stdoutReader{pr} }

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

// PID is the child's process id, which is also its process group id.
func (pr *Process) PID() int { return pr.pid }

// Done is closed when the process has exited and been reaped.
func (pr *Process) Done() <-chan struct{} { return pr.done }

// Err is the exit error (an *exec.ExitError for a non-zero status or a
// signal) once Done is closed, and nil before.
func (pr *Process) Err() error {
	select {
	case <-pr.done:
		return pr.err
	default:
		return nil
	}
}

// Ended tells the pool that the process's output ended while its owner
// still used it — the server exited or closed stdout on its own — so that
// the Release that follows does not make the exit look asked for: the
// process counts as crashed once reaped. Call it before Release.
func (pr *Process) Ended() {
	p := pr.pool
	p.mu.Lock()
	if !pr.released {
		pr.endedOwn = true
	}
	p.mu.Unlock()
}

// Release says the session is over. The pool runs the stop sequence in the
// background (counted by Wait) and frees the slot once the child is reaped.
// Release is idempotent, never blocks, and is safe after the process exited
// on its own.
func (pr *Process) Release() {
	p := pr.pool
	p.mu.Lock()
	if pr.released {
		p.mu.Unlock()
		return
	}
	pr.released = true
	if pr.state == stateAssigned {
		p.assigned--
	}
	reaped := pr.reaped
	if !reaped && pr.state != stateStopping {
		p.beginStopLocked(pr, ExitReleased)
		// The waiter of this unreaped process still holds a count on p.wg,
		// so this Add cannot race a Wait that already saw zero.
		p.wg.Add(1)
		go p.stop(pr)
	}
	p.mu.Unlock()
	pr.settle()
	if reaped {
		// The waiter already ran and left stdout open for us.
		pr.closeStdout()
	}
}

func (pr *Process) closeStdin() {
	pr.closeStdinOnce.Do(func() { _ = pr.stdin.Close() })
}

func (pr *Process) closeStdout() {
	pr.closeStdoutOnce.Do(func() { _ = pr.stdout.Close() })
}

func (pr *Process) closeStderr() {
	pr.closeStderrOnce.Do(func() { _ = pr.stderr.Close() })
}

// waitExit waits up to d for the child to exit and reports whether it did.
func (pr *Process) waitExit(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-pr.exited:
		return true
	case <-t.C:
		return false
	}
}
