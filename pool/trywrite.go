package pool

import (
	"errors"
	"syscall"
)

// ErrWouldWait reports that TryWriteStdin wrote nothing because the
// process's Ready check is still under way: the write must wait for it.
var ErrWouldWait = errors.New("stdin not ready without waiting")

// stdinTry is one TryWriteStdin's syscall, kept on the Process with its
// bound method so that a write allocates nothing.
type stdinTry struct {
	b   []byte
	n   int
	err error
	fn  func(fd uintptr) bool // try.write, bound once
}

// write runs one write(2) on the pipe. It always reports done, so the
// poller never parks the caller: a full pipe comes back as a short count.
func (t *stdinTry) write(fd uintptr) bool {
	for {
		n, err := syscall.Write(int(fd), t.b)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			t.n, t.err = 0, nil
		case err != nil:
			t.n, t.err = 0, err
		default:
			t.n, t.err = n, nil
		}
		return true
	}
}

// TryWriteStdin writes as much of b to the child's stdin as the pipe
// takes now, without waiting for room: it lets a sender whose message
// fits write it on its own goroutine instead of handing it to a writer
// goroutine, a wake-up and a switch per message. It returns how many
// bytes went out (0 on a full pipe); ErrWouldWait while a Ready check is
// under way; the pipe's error otherwise. Callers serialize their calls and
// keep the order of their bytes against Stdin's writes themselves.
func (pr *Process) TryWriteStdin(b []byte) (int, error) {
	if c := pr.warmed; c != nil {
		select {
		case <-c:
		default:
			return 0, ErrWouldWait
		}
	}
	if pr.try == nil {
		rc, err := pr.stdin.SyscallConn()
		if err != nil {
			return 0, err
		}
		t := &stdinTry{}
		t.fn = t.write
		pr.try, pr.tryConn = t, rc
	}
	t := pr.try
	t.b = b
	err := pr.tryConn.Write(t.fn)
	t.b = nil
	if err != nil {
		return 0, err
	}
	return t.n, t.err
}
