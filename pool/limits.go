package pool

import (
	"errors"
	"maps"
	"slices"
)

// SetLimits applies the bounds of cfg to a running pool, so a configuration
// reload that only tunes sizes and timeouts keeps every process: MaxProcesses,
// Warm, IdleTimeout, StopTimeout, AcquireTimeout, StderrLinesPerSecond, Ready
// and ReadyTimeout. cfg gets defaults and is validated as in New; its
// Command, Args, Env and Dir must equal the pool's (they define the
// processes; another command needs another pool), and its Logger is ignored.
//
// The new bounds apply from now on:
//   - a higher MaxProcesses lets waiting Acquires proceed at once;
//   - a lower MaxProcesses stops spares beyond it at once and admits no new
//     process until the live ones drop below it; an assigned process is
//     never stopped for it, it leaves when its session ends;
//   - a lower Warm stops the surplus spares at once (oldest first), a higher
//     one makes the keeper start more;
//   - IdleTimeout, StopTimeout, StderrLinesPerSecond apply to the next idle
//     check, stop sequence and started process; an Acquire already waiting
//     keeps its deadline; Ready and ReadyTimeout apply to the next spare,
//     and turning Ready on or changing ReadyTimeout checks spares again after
//     a check had timed out.
func (p *Pool) SetLimits(cfg Config) error {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Command != p.cfg.Command || cfg.Dir != p.cfg.Dir ||
		!slices.Equal(cfg.Args, p.cfg.Args) || !maps.Equal(cfg.Env, p.cfg.Env) {
		return errors.New("pool: SetLimits cannot change the command, args, env or dir: those need a new pool")
	}

	p.mu.Lock()
	old := p.cfg
	p.cfg.MaxProcesses = cfg.MaxProcesses
	p.cfg.Warm = cfg.Warm
	p.cfg.IdleTimeout = cfg.IdleTimeout
	p.cfg.StopTimeout = cfg.StopTimeout
	p.cfg.AcquireTimeout = cfg.AcquireTimeout
	p.cfg.StderrLinesPerSecond = cfg.StderrLinesPerSecond
	p.cfg.Ready = cfg.Ready
	p.cfg.ReadyTimeout = cfg.ReadyTimeout
	if cfg.Ready != nil && (old.Ready == nil || cfg.ReadyTimeout != old.ReadyTimeout) {
		p.readyOff = false
	}
	if cfg.warmTarget() < old.warmTarget() {
		p.trim = true
	}
	p.broadcastLocked() // waiters look at the new MaxProcesses
	p.mu.Unlock()
	p.kick() // the keeper trims or adds spares
	return nil
}

// Limits returns the pool's current configuration, with the bounds last set
// by New or SetLimits.
func (p *Pool) Limits() Config {
	return p.limits()
}

// limits is a copy of p.cfg taken under the lock, for code that reads a
// bound without holding it.
func (p *Pool) limits() Config {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.cfg
	c.Args = slices.Clone(c.Args)
	c.Env = maps.Clone(c.Env)
	return c
}
