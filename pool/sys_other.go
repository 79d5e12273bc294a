//go:build !unix

package pool

import (
	"errors"
	"os/exec"
	"syscall"
)

// The pool relies on process groups to stop children and their descendants;
// elsewhere it compiles (so Caddy still builds) but refuses to spawn.

func sysProcAttr() *syscall.SysProcAttr { return nil }

func startCmd(cmd *exec.Cmd) error { return cmd.Start() }

var (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)

func signalGroup(int, syscall.Signal) error { return errors.ErrUnsupported }

func spawnSupported() error {
	return errors.New("stdio processes need process groups, which this platform lacks: " + errors.ErrUnsupported.Error())
}
