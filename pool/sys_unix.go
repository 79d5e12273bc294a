//go:build unix

package pool

import (
	"errors"
	"syscall"
)

// sysProcAttr puts the child in a process group of its own (pgid = pid), so
// the pool can signal everything it started — npx and the node it runs, a
// shell and its children — with one kill(-pid, sig), and so signals sent to
// Caddy's own group (Ctrl-C in a terminal) do not hit the children directly.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// Signals used by the stop sequence.
var (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)

// signalGroup sends sig to the process group led by pid. A group that is
// already gone (ESRCH) is not an error: that is the outcome we want.
func signalGroup(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		// kill(0, …) or kill(-1, …) would hit Caddy's group or every process.
		return errors.New("pool: refusing to signal pid <= 0")
	}
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// spawnSupported reports whether this platform can run the pool's children.
func spawnSupported() error { return nil }
