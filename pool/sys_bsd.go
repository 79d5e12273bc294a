//go:build unix && !linux

package pool

import (
	"os/exec"
	"syscall"
)

// sysProcAttr puts the child in a process group of its own (pgid = pid), so
// the pool can signal everything it started — npx and the node it runs, a
// shell and its children — with one kill(-pid, sig), and so signals sent to
// Caddy's own group (Ctrl-C in a terminal) do not hit the children directly.
// Unix systems other than Linux have no parent-death signal: a child that
// ignores EOF outlives a Caddy killed with SIGKILL.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// startCmd starts cmd on the calling goroutine.
func startCmd(cmd *exec.Cmd) error { return cmd.Start() }
