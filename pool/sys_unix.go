//go:build unix

package pool

import (
	"errors"
	"syscall"
)

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
