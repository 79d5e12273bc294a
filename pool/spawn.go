package pool

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"go.uber.org/zap"
)

// SpawnerFunction names the function of the goroutine that forks every child
// on Linux (sys_linux.go), which lives as long as the process by design.
// Tests of packages that spawn through the pool ignore it in their goroutine
// leak checks: goleak.IgnoreAnyFunction(pool.SpawnerFunction).
const SpawnerFunction = "github.com/caddy-mcp/caddy-mcp/pool.spawner"

// quickDeath is the uptime below which a spare that died on its own counts
// as failing: the keeper then backs off instead of respawning at once.
const quickDeath = 2 * time.Second

// spawn starts one child in the given initial state. The caller must have
// reserved a slot (p.live) and must hold a count on p.wg for the duration of
// the call, so the goroutines started here are never added to a WaitGroup
// that a concurrent Wait already saw at zero. On failure the error wraps
// ErrSpawn and nothing is left open.
func (p *Pool) spawn(initial state) (*Process, error) {
	pr, err := p.start(initial)
	p.mu.Lock()
	if err != nil {
		p.spawnFailed++
	} else {
		p.spawned++
	}
	p.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrSpawn, p.cfg.Command, err)
	}
	p.wg.Add(2)
	go p.readStderr(pr)
	go p.supervise(pr)
	return pr, nil
}

// start creates the pipes and starts the command.
func (p *Pool) start(initial state) (*Process, error) {
	if err := spawnSupported(); err != nil {
		return nil, err
	}
	path, err := lookPath(p.cfg.Command, envValue(p.env, "PATH"))
	if err != nil {
		if strings.ContainsAny(p.cfg.Command, " \t") {
			err = fmt.Errorf("%w (the command runs without a shell: put its arguments in args)", err)
		}
		return nil, err
	}

	// Our own pipes, handed to exec.Cmd as *os.File: exec then starts no
	// copying goroutines and cmd.Wait closes nothing we still read from.
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW)
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW, outR, outW)
		return nil, err
	}

	cmd := &exec.Cmd{
		Path:        path,
		Args:        append([]string{p.cfg.Command}, p.cfg.Args...),
		Env:         p.env,
		Dir:         p.cfg.Dir,
		Stdin:       inR,
		Stdout:      outW,
		Stderr:      errW,
		SysProcAttr: sysProcAttr(),
	}
	err = startCmd(cmd) // on Linux from a thread that lives as long as Caddy
	// The child has its own copies now (or never will). Closing ours is what
	// lets the stdout reader see EOF when the child's group is gone.
	closeAll(inR, outW, errW)
	if err != nil {
		closeAll(inW, outR, errR)
		return nil, err
	}

	pr := &Process{
		pool:       p,
		cmd:        cmd,
		pid:        cmd.Process.Pid,
		log:        p.log.With(zap.Int("pid", cmd.Process.Pid)),
		started:    time.Now(),
		stdin:      inW,
		stdout:     outR,
		stderr:     errR,
		exited:     make(chan struct{}),
		stderrDone: make(chan struct{}),
		done:       make(chan struct{}),
		state:      initial,
		handedOut:  initial == stateAssigned,
	}
	pr.log.Debug("process started") // tests collect pids from this entry
	return pr, nil
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// supervise is the process's waiter: the only caller of cmd.Wait. It reaps
// the child, kills what is left of its group, closes the pipes it owns and
// frees the slot.
func (p *Pool) supervise(pr *Process) {
	defer p.wg.Done()
	err := pr.cmd.Wait()
	// The leader is gone; grandchildren (npx → node, sh → server) may still
	// hold the pipes. Kill the rest of the group so nothing is orphaned.
	_ = signalGroup(pr.pid, sigKill)
	pr.err = err
	close(pr.exited)

	// Nobody can write to a dead process; closing stdin also wakes a writer
	// blocked on a full pipe.
	pr.closeStdin()
	// Let the stderr reader log the child's last words, but do not wait
	// forever for a descendant that left the group and kept the pipe.
	t := time.NewTimer(p.limits().StopTimeout)
	select {
	case <-pr.stderrDone:
	case <-t.C:
	}
	t.Stop()
	pr.closeStderr()
	<-pr.stderrDone

	p.reaped(pr, time.Since(pr.started))
}

// reaped updates the books once a process is gone and frees its slot.
func (p *Pool) reaped(pr *Process, uptime time.Duration) {
	p.mu.Lock()
	pr.reaped = true
	p.live--
	asked := pr.state == stateStopping
	if asked {
		p.stopping--
	}
	wasSpare := pr.state == stateSpare
	crashed := !asked || pr.endedOwn
	if crashed {
		p.exits[ExitCrashed]++
	} else {
		p.exits[pr.stopCause]++
	}
	if wasSpare {
		p.removeSpareLocked(pr)
		if uptime < quickDeath {
			p.failedLocked()
		} else {
			p.backoff = 0
		}
	}
	// stdout stays open for an owner who has not released it yet, so it can
	// read to EOF; Release closes it then.
	closeStdout := pr.released || !pr.handedOut
	p.broadcastLocked()
	p.mu.Unlock()
	pr.settle() // kicks the keeper
	p.kick()
	// Done is closed after the books, so an owner that saw Done also sees
	// the slot freed in Stats.
	close(pr.done)

	if closeStdout {
		pr.closeStdout()
	}
	switch {
	case wasSpare:
		pr.log.Warn("idle spare exited", zap.Error(pr.err), zap.Duration("uptime", uptime))
	case crashed:
		pr.log.Info("process exited", zap.Error(pr.err), zap.Duration("uptime", uptime))
	default:
		pr.log.Debug("process stopped", zap.Error(pr.err), zap.Duration("uptime", uptime))
	}
}
