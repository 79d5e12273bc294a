package pool

import (
	"go.uber.org/zap"
)

// stop runs the stop sequence: close stdin (a well-behaved stdio server exits
// on EOF), wait StopTimeout, SIGTERM the group, wait StopTimeout, SIGKILL the
// group. Reaping itself is left to the process's waiter (supervise), the only
// caller of cmd.Wait; stop returns once the child has exited. The caller did
// p.wg.Add(1) for it.
func (p *Pool) stop(pr *Process) {
	defer p.wg.Done()
	wait := p.limits().StopTimeout
	pr.closeStdin()
	if pr.waitExit(wait) {
		return
	}
	pr.log.Debug("process ignored stdin EOF; sending SIGTERM to its group",
		zap.Duration("waited", wait))
	if err := signalGroup(pr.pid, sigTerm); err != nil {
		pr.log.Warn("SIGTERM failed", zap.Error(err))
	}
	if pr.waitExit(wait) {
		return
	}
	pr.log.Warn("process ignored SIGTERM; sending SIGKILL to its group",
		zap.Duration("waited", wait))
	if err := signalGroup(pr.pid, sigKill); err != nil {
		pr.log.Warn("SIGKILL failed", zap.Error(err))
	}
	<-pr.exited
}
