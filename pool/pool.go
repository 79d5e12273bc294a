package pool

import (
	"context"
	"os"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Pool runs the processes of one stdio upstream command. All methods are
// safe for concurrent use.
type Pool struct {
	// cfg is the configuration. Command, Args, Env and Dir never change;
	// the limits (see SetLimits) are guarded by mu.
	cfg Config
	env []string // the child environment, built once in New
	log *zap.Logger

	wg     sync.WaitGroup // every goroutine the pool starts; see Wait
	kickCh chan struct{}  // wakes the keeper; buffered(1), sends never block
	quit   chan struct{}  // closed by Close; stops the keeper

	mu sync.Mutex
	// changed is closed and replaced whenever a slot frees or a spare becomes
	// ready, waking every waiting Acquire at once (a broadcast without a queue).
	changed  chan struct{}
	closed   bool
	started  bool
	spares   []*Process // ready spares, oldest first; at most MaxProcesses
	live     int        // slots held: processes starting or not yet reaped
	assigned int        // handed out and not released
	spawning int        // spare spawns in flight (the keeper's)
	settling int        // spares taken whose replacement waits (settle.go)
	warming  []*Process // new spares whose Ready check runs (ready.go); counted in spawning
	readyOff bool       // a Ready check timed out: later spares go unchecked
	waiting  int        // Acquire calls waiting for a slot
	stopping int        // processes in stateStopping not yet reaped: slots on their way
	trim     bool       // SetLimits lowered Warm: stop the surplus spares now (spares.go)
	backoff  time.Duration
	retryAt  time.Time // the keeper spawns no spare before this

	spawned, spawnFailed, readyFailed int
	exits                             [NumExitCauses]int
}

// Stats is a snapshot of a pool's counters, for metrics and tests.
type Stats struct {
	// Live is the number of slots held: processes starting or running (or
	// exited but not yet reaped), spares included. Never above MaxProcesses,
	// except after SetLimits lowered it while more processes were assigned.
	Live int
	// Spares is the number of started, unassigned processes ready for Acquire.
	Spares int
	// Assigned is the number of processes handed out and not yet released.
	Assigned int
	// Waiting is the number of Acquire calls waiting for a slot.
	Waiting int
	// Warming is the number of new spares whose Ready check still runs.
	Warming int
	// Stopping is the number of processes being stopped and not yet reaped;
	// their slots free once they are. Counted in Live.
	Stopping int
	// Spawned counts processes started since New.
	Spawned int
	// SpawnFailed counts failed attempts to start a process.
	SpawnFailed int
	// Crashed counts processes that exited before the pool asked them to
	// stop (Exits[ExitCrashed]).
	Crashed int
	// ReadyFailed counts new spares that failed their Ready check (an
	// answer that is not one, or the process's exit; not a timeout).
	ReadyFailed int
	// Exits counts the processes reaped since New, by why they exited.
	Exits [NumExitCauses]int
}

// New validates cfg (after defaults) and returns a pool. It spawns nothing:
// spares come with Start, other processes with Acquire.
func New(cfg Config) (*Pool, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Args = slices.Clone(cfg.Args)
	return &Pool{
		cfg:     cfg,
		env:     childEnv(os.Environ(), cfg.Env),
		log:     cfg.Logger.With(zap.String("command", cfg.Command)),
		kickCh:  make(chan struct{}, 1),
		quit:    make(chan struct{}),
		changed: make(chan struct{}),
	}, nil
}

// Start begins keeping Config.Warm spares ready. It is idempotent and does
// nothing after Close. Call it from the Caddy app's Start, never from
// Provision, so `caddy validate` spawns no servers.
func (p *Pool) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.closed {
		return
	}
	p.started = true
	p.wg.Add(1)
	go p.keep()
}

// Acquire returns a started process that no session has talked to yet (a
// Config.Ready check may have pinged it): a warm spare if one is ready (the
// keeper then starts a replacement), else a spare whose Ready check still
// runs (its stdout reads wait for the check), else a new process if the pool
// is under MaxProcesses, else — after asking the caller to give a process
// back if ctx carries WithReclaim (see reclaim.go for when) — it waits up to
// AcquireTimeout (or until ctx ends) for a slot to free and then fails with
// an error wrapping ErrFull (see RetryAfter). A failure to start the command
// is returned at once, wrapping ErrSpawn. After Close it returns ErrClosed.
// The caller must Release the process.
func (p *Pool) Acquire(ctx context.Context) (*Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	began := time.Now()
	var timer *time.Timer
	isWaiting, waited := false, false
	reclaim := reclaimFrom(ctx)
	var reclaimedAt chan struct{} // p.changed when reclaim was last called
	defer func() {
		if timer != nil {
			timer.Stop()
		}
		if isWaiting {
			p.mu.Lock()
			p.waiting--
			p.mu.Unlock()
		}
		if waited {
			p.kick() // the keeper leaves slots to waiters; it may resume
		}
	}()
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		if isWaiting && (len(p.spares) > 0 || len(p.warming) > 0 || p.live < p.cfg.MaxProcesses) {
			// About to take a slot: no longer a waiter, so another waiter
			// deciding whether to reclaim does not count this one.
			isWaiting = false
			p.waiting--
		}
		if pr, cold := p.takeLocked(); pr != nil || cold {
			p.mu.Unlock()
			if cold {
				return p.coldSpawn(ctx) // the slot is reserved; spawn outside the lock
			}
			return pr, nil
		}
		if !isWaiting {
			isWaiting, waited = true, true
			p.waiting++
		}
		changed := p.changed
		if timer == nil {
			// A wait already under way keeps its deadline across SetLimits.
			timer = time.NewTimer(p.cfg.AcquireTimeout)
		}
		// More waiters than slots on their way, and not asked yet since the
		// pool last changed: ask the caller to free one (reclaim.go).
		askReclaim := reclaim != nil && reclaimedAt != changed && p.waiting > p.stopping
		p.mu.Unlock()

		if askReclaim {
			reclaimedAt = changed
			if reclaim() {
				continue // its process is stopping now; look again
			}
		}

		select {
		case <-changed:
		case <-timer.C:
			return nil, p.fullError(time.Since(began), nil)
		case <-ctx.Done():
			return nil, p.fullError(time.Since(began), ctx.Err())
		}
	}
}

// takeLocked takes a process for Acquire without waiting: the newest
// spare, else a warming process, else a free slot reserved for a cold spawn
// (cold true, p.live and p.wg counted). Neither: the pool is full. p.mu is
// held, and the caller unlocks it before spawning.
func (p *Pool) takeLocked() (pr *Process, cold bool) {
	if n := len(p.spares); n > 0 {
		// Newest first, so surplus spares at the front age out.
		pr = p.spares[n-1]
		p.spares = p.spares[:n-1]
		p.assignLocked(pr)
		p.beginSettlingLocked(pr) // the keeper replaces it once it answered
		return pr, false
	}
	if pr = p.takeWarmingLocked(); pr != nil {
		p.beginSettlingLocked(pr)
		return pr, false
	}
	if p.live < p.cfg.MaxProcesses {
		p.live++
		p.wg.Add(1) // held across spawn; see spawn's doc
		return nil, true
	}
	return nil, false
}

// coldSpawn starts a process for Acquire in a slot already reserved.
func (p *Pool) coldSpawn(ctx context.Context) (*Process, error) {
	defer p.wg.Done()
	pr, err := p.spawn(stateAssigned)
	if err != nil {
		p.mu.Lock()
		p.live--
		p.broadcastLocked()
		p.mu.Unlock()
		p.kick()
		return nil, err
	}

	p.mu.Lock()
	p.assigned++
	switch {
	case p.closed:
		p.mu.Unlock()
		pr.Release()
		return nil, ErrClosed
	case ctx.Err() != nil && p.started && !pr.reaped:
		// The caller gave up while the child started. Keep it as a spare
		// rather than waste it; the keeper stops it after IdleTimeout if it
		// is surplus.
		p.assigned--
		pr.state, pr.handedOut = stateSpare, false
		p.addSpareLocked(pr)
		p.mu.Unlock()
		p.kick()
		return nil, ctx.Err()
	case ctx.Err() != nil:
		p.mu.Unlock()
		pr.Release()
		return nil, ctx.Err()
	}
	p.mu.Unlock()
	return pr, nil
}

// Close stops accepting Acquire (which then returns ErrClosed) and stops
// every spare. Processes already assigned keep running until released
// (drain). Close does not wait; call Wait for that.
func (p *Pool) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.quit)
	spares := append(p.spares, p.warming...)
	p.spares, p.warming = nil, nil
	for _, pr := range spares {
		p.beginStopLocked(pr, ExitClosed)
		p.wg.Add(1) // each spare's waiter holds a count, so this is safe
	}
	p.broadcastLocked()
	p.mu.Unlock()
	for _, pr := range spares {
		go p.stop(pr)
	}
}

// Wait blocks until every process of the pool has been reaped and every
// goroutine the pool started has returned. Call it after Close; processes
// still assigned are waited for until their owners release them.
func (p *Pool) Wait() {
	p.wg.Wait()
}

// Stats returns a snapshot of the pool's counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{
		Live:        p.live,
		Spares:      len(p.spares),
		Assigned:    p.assigned,
		Waiting:     p.waiting,
		Warming:     len(p.warming),
		Stopping:    p.stopping,
		Spawned:     p.spawned,
		SpawnFailed: p.spawnFailed,
		Crashed:     p.exits[ExitCrashed],
		ReadyFailed: p.readyFailed,
		Exits:       p.exits,
	}
}

func (p *Pool) fullError(waited time.Duration, cause error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &FullError{
		Max:        p.cfg.MaxProcesses,
		Waited:     waited,
		RetryAfter: retryAfter(p.cfg.AcquireTimeout),
		Cause:      cause,
	}
}

// assignLocked hands a ready spare to its new owner.
func (p *Pool) assignLocked(pr *Process) {
	pr.state, pr.handedOut = stateAssigned, true
	p.assigned++
	// A spare lived long enough to be used: the command works.
	p.backoff = 0
}

func (p *Pool) addSpareLocked(pr *Process) {
	pr.idleSince = time.Now()
	p.spares = append(p.spares, pr)
	p.broadcastLocked()
}

func (p *Pool) removeSpareLocked(pr *Process) {
	if i := slices.Index(p.spares, pr); i >= 0 {
		p.spares = slices.Delete(p.spares, i, i+1)
	}
}

// beginStopLocked marks pr as being stopped for cause; the caller starts
// its stop sequence. An unreaped process counts in p.stopping until
// reaped() runs, which counts its exit under cause.
func (p *Pool) beginStopLocked(pr *Process, cause ExitCause) {
	pr.state, pr.stopCause = stateStopping, cause
	if !pr.reaped {
		p.stopping++
	}
}

// broadcastLocked wakes every waiting Acquire.
func (p *Pool) broadcastLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// kick wakes the keeper without blocking; one pending wake-up is enough.
func (p *Pool) kick() {
	select {
	case p.kickCh <- struct{}{}:
	default:
	}
}
