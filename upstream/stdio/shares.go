package stdio

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// sharedSet is every share of processes that serve Call: the anonymous
// one (requests without a user) and one per authenticated user, started on
// demand, so that users never share a process. All come from the pool.
type sharedSet struct {
	mu      sync.Mutex
	closed  bool
	anon    share             // requests without a user
	users   map[string]*share // by user; bounded by MaxUserShares
	janitor bool              // the goroutine that stops idle user shares runs
	changed chan struct{}     // closed and replaced when room may have freed
	started int               // processes started so far: the next one's name

	// Zero means the default (tests shorten them).
	idle     time.Duration // ShareIdleTimeout
	maxUsers int           // MaxUserShares
}

// share is one user's processes, each behind a mux.
type share struct {
	user      string
	procs     []*sharedProc
	starting  bool      // a process is being acquired for the share
	waiting   int       // Calls waiting for room
	refs      int       // Calls holding the share (in flight or waiting)
	idleSince time.Time // when refs last dropped to zero
	gone      bool      // reclaimed: no longer in users
}

// sharedProc is one shared process and its requests in flight.
type sharedProc struct {
	share   *share
	name    string // tags what it mints; never reused, so an exited one's tags stay unknown
	mux     *mux
	load    int // requests in flight, listens aside; guarded by sharedSet.mu
	listens int // subscriptions/listen streams open on it
}

// shareLocked returns user's share, or nil if it has none.
func (set *sharedSet) shareLocked(user string) *share {
	if user == "" {
		return &set.anon
	}
	return set.users[user]
}

// pinShare returns user's share, creating it when needed, and holds it
// until unpinShare so that it is not reclaimed under a Call.
func (s *Upstream) pinShare(user string) (*share, error) {
	set := &s.shared
	set.mu.Lock()
	defer set.mu.Unlock()
	if set.closed {
		return nil, &upstream.BusyError{RetryAfter: time.Second, Err: errSharedClosed}
	}
	sh := set.shareLocked(user)
	if sh == nil {
		if limit := cmp.Or(set.maxUsers, MaxUserShares); len(set.users) >= limit && !s.reclaimOldestIdleLocked() {
			return nil, &upstream.BusyError{RetryAfter: time.Second, Err: fmt.Errorf(
				"upstream: %d users hold shared MCP server processes, all with requests in flight", limit)}
		}
		sh = &share{user: user}
		set.users[user] = sh
		if !set.janitor {
			set.janitor = true
			s.wg.Add(1)
			go s.reclaimIdleShares()
		}
	}
	sh.refs++
	return sh, nil
}

// unpinShare ends a Call's hold on its share.
func (s *Upstream) unpinShare(sh *share) {
	s.shared.mu.Lock()
	defer s.shared.mu.Unlock()
	if sh.refs--; sh.refs == 0 {
		sh.idleSince = time.Now()
	}
}

// reclaimOldestIdleLocked stops the user share idle the longest, to make
// room for another user; it reports false when every share is in use.
func (s *Upstream) reclaimOldestIdleLocked() bool {
	var oldest *share
	for _, sh := range s.shared.users {
		if sh.refs == 0 && (oldest == nil || sh.idleSince.Before(oldest.idleSince)) {
			oldest = sh
		}
	}
	if oldest == nil {
		return false
	}
	s.dropShareLocked(oldest, "to make room for another user")
	return true
}

// dropShareLocked removes an idle user share and stops its processes (in
// the pool's background: Release does not block).
func (s *Upstream) dropShareLocked(sh *share, why string) {
	delete(s.shared.users, sh.user)
	sh.gone = true
	procs := sh.procs
	sh.procs = nil
	s.logger.Debug("stopping an idle user's shared MCP server processes", zap.Int("processes", len(procs)), zap.String("why", why))
	for _, sp := range procs {
		// mux.end calls sharedEnded, which takes the lock: run it apart.
		s.wg.Add(1)
		go func() { defer s.wg.Done(); sp.mux.close() }()
	}
}

// reclaimIdleShares stops the processes of user shares that had no request
// in flight for the idle timeout, like surplus spares. It runs while user
// shares exist, and ends with Close.
func (s *Upstream) reclaimIdleShares() {
	defer s.wg.Done()
	set := &s.shared
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		idle := cmp.Or(set.idle, ShareIdleTimeout)
		set.mu.Lock()
		now := time.Now()
		wake := idle
		for _, sh := range set.users {
			if sh.refs > 0 {
				continue
			}
			if left := sh.idleSince.Add(idle).Sub(now); left <= 0 {
				s.dropShareLocked(sh, "idle")
			} else {
				wake = min(wake, left)
			}
		}
		if set.closed || len(set.users) == 0 {
			set.janitor = false
			set.mu.Unlock()
			return
		}
		set.mu.Unlock()
		timer.Reset(wake)
		select {
		case <-timer.C:
		case <-s.closeCtx.Done():
		}
	}
}

// acquireShared reserves room on a process of sh, starting one when
// needed: a request slot, or for a listen only a place on the least loaded
// process (listens are bounded by the front, not by MaxInFlight).
func (s *Upstream) acquireShared(ctx context.Context, sh *share, listen bool) (*sharedProc, error) {
	set := &s.shared
	var timer *time.Timer
	waiting := false
	defer func() {
		if timer != nil {
			timer.Stop()
		}
		if waiting {
			set.mu.Lock()
			sh.waiting--
			set.mu.Unlock()
		}
	}()
	for {
		// Read afresh each time: a reload may raise the bounds (SetLive).
		opts := s.statelessOpts()
		limit := opts.MaxInFlight
		if listen {
			limit = int(^uint(0) >> 1)
		}
		set.mu.Lock()
		if set.closed || sh.gone {
			set.mu.Unlock()
			return nil, &upstream.BusyError{RetryAfter: time.Second, Err: errSharedClosed}
		}
		if sp := sh.leastLoaded(limit); sp != nil {
			sp.take(listen)
			set.mu.Unlock()
			return sp, nil
		}
		if !sh.starting && len(sh.procs) < opts.Shared {
			sh.starting = true
			set.mu.Unlock()
			return s.startShared(ctx, sh, listen)
		}
		if !waiting {
			waiting = true
			sh.waiting++
		}
		changed := set.changed
		set.mu.Unlock()

		if timer == nil {
			timer = time.NewTimer(sharedWait)
		}
		select {
		case <-changed:
		case <-timer.C:
			return nil, &upstream.BusyError{RetryAfter: time.Second, Err: fmt.Errorf(
				"upstream: all %d shared MCP server processes have %d requests in flight", opts.Shared, opts.MaxInFlight)}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// acquireNamed reserves room on the process of sh named name, whatever
// its load (a task lives there and nowhere else), or returns nil when sh
// has no such process: it exited, or the name is forged.
func (s *Upstream) acquireNamed(sh *share, name string, listen bool) *sharedProc {
	set := &s.shared
	set.mu.Lock()
	defer set.mu.Unlock()
	for _, sp := range sh.procs {
		if sp.name == name {
			sp.take(listen)
			return sp
		}
	}
	return nil
}

// leastLoaded returns the live process of sh with the fewest requests in
// flight below limit, or nil.
func (sh *share) leastLoaded(limit int) *sharedProc {
	var best *sharedProc
	for _, sp := range sh.procs {
		if sp.load < limit && (best == nil || sp.load < best.load) {
			best = sp
		}
	}
	return best
}

func (sp *sharedProc) take(listen bool) {
	if listen {
		sp.listens++
	} else {
		sp.load++
	}
}

// startShared acquires a process from the pool for sh and reserves room
// on it. The caller set sh.starting.
func (s *Upstream) startShared(ctx context.Context, sh *share, listen bool) (*sharedProc, error) {
	set := &s.shared
	proc, err := s.pool.Acquire(ctx)
	if _, full := pool.RetryAfter(err); full {
		// Another user's idle share gives way, as surplus spares do.
		set.mu.Lock()
		freed := !set.closed && s.reclaimOldestIdleLocked()
		set.mu.Unlock()
		if freed {
			proc, err = s.pool.Acquire(ctx)
		}
	}
	set.mu.Lock()
	defer set.mu.Unlock()
	sh.starting = false
	set.broadcastLocked() // waiters either use the new process or start one
	if err != nil {
		return nil, acquireError(err)
	}
	if set.closed || sh.gone {
		proc.Release()
		return nil, &upstream.BusyError{RetryAfter: time.Second, Err: errSharedClosed}
	}
	set.started++
	sp := &sharedProc{share: sh, name: strconv.Itoa(set.started)}
	sp.take(listen)
	sp.mux = newMux(proc, s.messageLimit(), s.logger.Named("shared"), &s.wg, func(*mux) { s.sharedEnded(sp) })
	sh.procs = append(sh.procs, sp)
	s.logger.Debug("started a shared MCP server process for 2026-07-28 requests",
		zap.Int("pid", proc.PID()), zap.Int("shared", len(sh.procs)), zap.Bool("user", sh.user != ""))
	return sp, nil
}

// releaseShared frees the room a Call held.
func (s *Upstream) releaseShared(sp *sharedProc, listen bool) {
	set := &s.shared
	set.mu.Lock()
	if listen {
		sp.listens--
	} else {
		sp.load--
	}
	if sp.share.waiting > 0 {
		set.broadcastLocked()
	}
	set.mu.Unlock()
}

// sharedEnded drops a process that ended from its share; the next Call
// that needs one starts a new process.
func (s *Upstream) sharedEnded(sp *sharedProc) {
	set := &s.shared
	set.mu.Lock()
	defer set.mu.Unlock()
	sh := sp.share
	if i := slices.Index(sh.procs, sp); i >= 0 {
		sh.procs = slices.Delete(sh.procs, i, i+1)
		set.broadcastLocked()
	}
}

func (set *sharedSet) broadcastLocked() {
	close(set.changed)
	set.changed = make(chan struct{})
}

// Close stops the shared processes of every share (their Calls fail) and
// any era probe, and makes later Calls fail busy. Sessions opened with Open
// are not affected. Close does not wait; Wait does.
func (s *Upstream) Close() {
	s.closeCancel()
	set := &s.shared
	set.mu.Lock()
	set.closed = true
	procs := set.anon.procs
	set.anon.procs = nil
	for _, sh := range set.users {
		procs = append(procs, sh.procs...)
		sh.procs, sh.gone = nil, true
	}
	clear(set.users)
	set.broadcastLocked()
	set.mu.Unlock()
	for _, sp := range procs {
		sp.mux.close()
	}
}
