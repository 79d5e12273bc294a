//go:build linux

package pool

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// sysProcAttr puts the child in a process group of its own (pgid = pid), so
// the pool can signal everything it started — npx and the node it runs, a
// shell and its children — with one kill(-pid, sig), and so signals sent to
// Caddy's own group (Ctrl-C in a terminal) do not hit the children directly.
//
// Pdeathsig makes the kernel SIGKILL the child when its parent dies, so a
// Caddy killed with SIGKILL (systemd's last resort) leaves no direct child
// running. Only the direct child gets it: the grandchildren of a wrapper
// (npx → node, uvx → python) are reached through the process group at a
// normal stop, not after Caddy was killed.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// The parent-death signal fires when the OS thread that forked the child
// exits, not when the process does (golang/go#27505): a child forked from
// an ordinary goroutine is killed whenever the Go runtime retires that
// thread, which it does at will. So every child is forked from one
// goroutine locked to its thread, which it never unlocks and from which it
// never returns: the thread then lives exactly as long as Caddy.
//
// That goroutine is intentionally immortal and has no owner to stop it:
// stopping it would retire its thread and kill every child forked there.
// It starts with the first spawn and costs one parked thread.
var (
	spawnerOnce sync.Once
	spawnQueue  chan spawnRequest // unbuffered: a spawn waits its turn
)

// spawnRequest is one cmd.Start for the spawner, with its result.
type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error // buffered(1): the spawner never blocks on a reply
}

// startCmd runs cmd.Start on the spawner's locked thread and returns its
// result. Forks are serialized; each takes a millisecond or so.
func startCmd(cmd *exec.Cmd) error {
	spawnerOnce.Do(func() {
		spawnQueue = make(chan spawnRequest)
		go spawner(spawnQueue)
	})
	req := spawnRequest{cmd: cmd, done: make(chan error, 1)}
	spawnQueue <- req
	return <-req.done
}

// spawner starts the commands it is sent, forever, on its own OS thread.
func spawner(queue <-chan spawnRequest) {
	runtime.LockOSThread() // never unlocked: see above
	for req := range queue {
		req.done <- req.cmd.Start()
	}
}
