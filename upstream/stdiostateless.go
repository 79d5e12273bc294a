package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pool"
)

// Values of StdioOptions.Protocol: which MCP era a stdio server speaks.
const (
	// ProtocolAuto probes the server once, with server/discover on a
	// throwaway process, and remembers the answer.
	ProtocolAuto = "auto"
	// ProtocolLegacy: the 2025 revisions only (initialize, sessions).
	ProtocolLegacy = "legacy"
	// ProtocolModern: the server also serves 2026-07-28 requests.
	ProtocolModern = "modern"
)

// Eras reported by (*Stdio).Era.
const (
	EraLegacy = "legacy"
	EraModern = "modern"
)

// Defaults of StdioOptions.
const (
	DefaultProbeTimeout   = 10 * time.Second
	DefaultShared         = 2
	DefaultSharedInFlight = 64
)

// sharedWait is how long a Call waits for room on the shared processes
// before it fails busy (as long as the pool's default acquire wait).
const sharedWait = 5 * time.Second

// modernVersion is the stateless revision the shared processes serve.
const modernVersion = "2026-07-28"

// errSharedClosed is the cause of a Call after Close.
var errSharedClosed = errors.New("upstream: the stdio upstream was closed")

// StdioOptions configures how a Stdio serves 2026-07-28 requests. The zero
// value of each field means its default.
type StdioOptions struct {
	// Protocol is ProtocolAuto (default), ProtocolLegacy or ProtocolModern.
	Protocol string
	// ProbeTimeout bounds the wait for the answer to the auto probe
	// (default 10s); no answer in time means legacy.
	ProbeTimeout time.Duration
	// Shared is the most processes that serve 2026-07-28 requests together
	// (default 2). They come from the same pool as the sessions' processes,
	// so the pool's max_processes bounds both.
	Shared int
	// MaxInFlight is the most requests in flight on one shared process
	// (default 64); another process starts when every one is at it.
	MaxInFlight int
}

func (o StdioOptions) withDefaults() StdioOptions {
	if o.Protocol == "" {
		o.Protocol = ProtocolAuto
	}
	if o.ProbeTimeout == 0 {
		o.ProbeTimeout = DefaultProbeTimeout
	}
	if o.Shared == 0 {
		o.Shared = DefaultShared
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = DefaultSharedInFlight
	}
	return o
}

// Validate reports every problem of o in one error, each naming the setting.
func (o StdioOptions) Validate() error {
	o = o.withDefaults()
	var errs []error
	switch o.Protocol {
	case ProtocolAuto, ProtocolLegacy, ProtocolModern:
	default:
		errs = append(errs, fmt.Errorf("protocol must be %s, %s or %s, got %q", ProtocolLegacy, ProtocolModern, ProtocolAuto, o.Protocol))
	}
	if o.ProbeTimeout < 0 {
		errs = append(errs, fmt.Errorf("probe_timeout must be positive, got %s", o.ProbeTimeout))
	}
	if o.Shared < 0 {
		errs = append(errs, fmt.Errorf("shared must be positive, got %d", o.Shared))
	}
	if o.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("the in-flight limit of a shared process must be positive, got %d", o.MaxInFlight))
	}
	return errors.Join(errs...)
}

// NewStdioWithOptions is NewStdio with options for 2026-07-28 requests.
func NewStdioWithOptions(p *pool.Pool, maxMessageSize int, logger *zap.Logger, opts StdioOptions) (*Stdio, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Stdio{
		pool:           p,
		maxMessageSize: maxMessageSize,
		logger:         logger,
		opts:           opts.withDefaults(),
		closeCtx:       ctx,
		closeCancel:    cancel,
		shared:         sharedSet{changed: make(chan struct{})},
	}, nil
}

// sharedSet is the processes that serve Call, each behind a mux.
type sharedSet struct {
	mu       sync.Mutex
	closed   bool
	procs    []*sharedProc
	starting bool          // a process is being acquired for the set
	waiting  int           // Calls waiting for room
	changed  chan struct{} // closed and replaced when room may have freed
}

// sharedProc is one shared process and its requests in flight.
type sharedProc struct {
	mux  *mux
	load int // guarded by sharedSet.mu
}

// Call serves one 2026-07-28 request (Stateless) on a process shared with
// other clients: the least loaded one, or a new one from the pool while
// fewer than Shared run and all are at MaxInFlight. The request's id, its
// progressToken and (for subscriptions/listen) its subscription id are the
// mux's while upstream; what reaches deliver carries the client's again.
// deliver is called on Call's goroutine, in order, never after Call
// returned, always with status 200.
//
// Call returns ErrLegacyOnly at once when the server speaks only the 2025
// revisions (Protocol legacy, or what the auto probe found); a *BusyError
// when no process is free within a few seconds or the pool is full or
// closed; ctx.Err() when ctx ends first (the server gets
// notifications/cancelled with the request's upstream id and nothing more
// is delivered); an error naming the process when it exited before
// answering (a listen stream ends that way too; the next Call starts a new
// process). A client notification is forwarded to a running shared process
// (dropped when none runs), except notifications/cancelled and
// notifications/progress, whose ids mean nothing upstream: those are dropped.
func (s *Stdio) Call(ctx context.Context, req *StatelessRequest, deliver func(m *pipeline.Message, status int)) error {
	if req == nil || req.Message == nil || deliver == nil {
		return errors.New("upstream: Call needs a request message and a deliver function")
	}
	msg := req.Message
	era, err := s.Era(ctx)
	if err != nil {
		return err
	}
	if era != EraModern {
		return ErrLegacyOnly
	}
	switch msg.Kind {
	case pipeline.KindRequest:
	case pipeline.KindNotification:
		s.notify(msg)
		return nil
	default:
		return errors.New("upstream: 2026-07-28 clients send no responses")
	}
	sp, err := s.acquireShared(ctx)
	if err != nil {
		return err
	}
	defer s.releaseShared(sp)
	return sp.mux.call(ctx, msg, deliver)
}

// notify forwards a client notification to the least loaded shared process.
func (s *Stdio) notify(msg *pipeline.Message) {
	if msg.Method == "notifications/cancelled" || msg.Method == "notifications/progress" {
		s.logger.Debug("dropped a 2026-07-28 client notification that names a request", zap.String("method", msg.Method))
		return
	}
	s.shared.mu.Lock()
	sp := s.leastLoadedLocked(int(^uint(0) >> 1))
	s.shared.mu.Unlock()
	if sp == nil || !sp.mux.send(msg.Raw) {
		s.logger.Debug("dropped a 2026-07-28 client notification: no shared process can take it", zap.String("method", msg.Method))
	}
}

// acquireShared reserves a request slot on a shared process, starting one
// when needed.
func (s *Stdio) acquireShared(ctx context.Context) (*sharedProc, error) {
	sh := &s.shared
	var timer *time.Timer
	waiting := false
	defer func() {
		if timer != nil {
			timer.Stop()
		}
		if waiting {
			sh.mu.Lock()
			sh.waiting--
			sh.mu.Unlock()
		}
	}()
	for {
		sh.mu.Lock()
		if sh.closed {
			sh.mu.Unlock()
			return nil, &BusyError{RetryAfter: time.Second, Err: errSharedClosed}
		}
		if sp := s.leastLoadedLocked(s.options().MaxInFlight); sp != nil {
			sp.load++
			sh.mu.Unlock()
			return sp, nil
		}
		if !sh.starting && len(sh.procs) < s.options().Shared {
			sh.starting = true
			sh.mu.Unlock()
			return s.startShared(ctx)
		}
		if !waiting {
			waiting = true
			sh.waiting++
		}
		changed := sh.changed
		sh.mu.Unlock()

		if timer == nil {
			timer = time.NewTimer(sharedWait)
		}
		select {
		case <-changed:
		case <-timer.C:
			return nil, &BusyError{RetryAfter: time.Second, Err: fmt.Errorf(
				"upstream: all %d shared MCP server processes have %d requests in flight", s.options().Shared, s.options().MaxInFlight)}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// leastLoadedLocked returns the live shared process with the fewest requests
// in flight below limit, or nil.
func (s *Stdio) leastLoadedLocked(limit int) *sharedProc {
	var best *sharedProc
	for _, sp := range s.shared.procs {
		if sp.load < limit && (best == nil || sp.load < best.load) {
			best = sp
		}
	}
	return best
}

// startShared acquires a process from the pool for the shared set and
// reserves a slot on it. The caller set shared.starting.
func (s *Stdio) startShared(ctx context.Context) (*sharedProc, error) {
	sh := &s.shared
	proc, err := s.pool.Acquire(ctx)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.starting = false
	sh.broadcastLocked() // waiters either use the new process or start one
	if err != nil {
		return nil, acquireError(err)
	}
	if sh.closed {
		proc.Release()
		return nil, &BusyError{RetryAfter: time.Second, Err: errSharedClosed}
	}
	sp := &sharedProc{load: 1}
	sp.mux = newMux(proc, s.messageLimit(), s.logger.Named("shared"), &s.wg, func(*mux) { s.sharedEnded(sp) })
	sh.procs = append(sh.procs, sp)
	s.logger.Debug("started a shared MCP server process for 2026-07-28 requests",
		zap.Int("pid", proc.PID()), zap.Int("shared", len(sh.procs)))
	return sp, nil
}

// releaseShared frees the slot a Call held.
func (s *Stdio) releaseShared(sp *sharedProc) {
	s.shared.mu.Lock()
	sp.load--
	if s.shared.waiting > 0 {
		s.shared.broadcastLocked()
	}
	s.shared.mu.Unlock()
}

// sharedEnded drops a process that ended from the set; the next Call that
// needs one starts a new process.
func (s *Stdio) sharedEnded(sp *sharedProc) {
	s.shared.mu.Lock()
	defer s.shared.mu.Unlock()
	if i := slices.Index(s.shared.procs, sp); i >= 0 {
		s.shared.procs = slices.Delete(s.shared.procs, i, i+1)
		s.shared.broadcastLocked()
	}
}

func (sh *sharedSet) broadcastLocked() {
	close(sh.changed)
	sh.changed = make(chan struct{})
}

// Close stops the shared processes (their Calls fail) and any era probe,
// and makes later Calls fail busy. Sessions opened with Open are not
// affected. Close does not wait; Wait does.
func (s *Stdio) Close() {
	s.closeCancel()
	s.shared.mu.Lock()
	s.shared.closed = true
	procs := s.shared.procs
	s.shared.procs = nil
	s.shared.broadcastLocked()
	s.shared.mu.Unlock()
	for _, sp := range procs {
		sp.mux.close()
	}
}

// acquireError maps a pool.Acquire failure as Open does.
func acquireError(err error) error {
	if wait, full := pool.RetryAfter(err); full {
		return &BusyError{RetryAfter: wait, Err: err}
	}
	if errors.Is(err, pool.ErrClosed) {
		return &BusyError{RetryAfter: time.Second, Err: err}
	}
	return err
}

// eraState remembers which era the server speaks, found by one probe.
type eraState struct {
	mu      sync.Mutex
	era     string        // "" until known
	probing chan struct{} // non-nil while a probe runs; closed when it ends
	err     error         // why the last probe found nothing
}

// Era reports whether the server speaks the 2026-07-28 revision (EraModern)
// or only the 2025 ones (EraLegacy). With Protocol auto the first call
// probes the server once, with server/discover on a throwaway process from
// the pool; concurrent calls wait for that probe (or until ctx ends). A
// probe that could not run (the pool was full, the command did not start,
// Close) returns its error and is retried by the next call; a probe that
// ran is remembered for the life of the Stdio.
func (s *Stdio) Era(ctx context.Context) (string, error) {
	switch s.opts.Protocol {
	case ProtocolLegacy:
		return EraLegacy, nil
	case ProtocolModern:
		return EraModern, nil
	}
	e := &s.era
	e.mu.Lock()
	if e.era != "" {
		era := e.era
		e.mu.Unlock()
		return era, nil
	}
	ch := e.probing
	if ch == nil {
		if err := s.closeCtx.Err(); err != nil {
			e.mu.Unlock()
			return "", &BusyError{RetryAfter: time.Second, Err: errSharedClosed}
		}
		ch = make(chan struct{})
		e.probing = ch
		s.wg.Add(1)
		go s.runProbe(ch)
	}
	e.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.era != "" {
		return e.era, nil
	}
	return "", e.err
}

func (s *Stdio) runProbe(ch chan struct{}) {
	defer s.wg.Done()
	era, err := s.probe(s.closeCtx)
	e := &s.era
	e.mu.Lock()
	defer e.mu.Unlock()
	if err == nil {
		e.era = era
	} else {
		e.err = err
	}
	e.probing = nil
	close(ch)
}

// discoverProbe is the request of the era probe.
const discoverProbe = `{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{` +
	`"io.modelcontextprotocol/protocolVersion":"` + modernVersion + `","io.modelcontextprotocol/clientCapabilities":{}}}}`

// probe asks a throwaway process which era it speaks and stops it.
func (s *Stdio) probe(ctx context.Context) (string, error) {
	proc, err := s.pool.Acquire(ctx)
	if err != nil {
		return "", fmt.Errorf("upstream: starting a process to probe the MCP server's era: %w", acquireError(err))
	}
	logger := s.logger.With(zap.Int("pid", proc.PID()))
	m := newMux(proc, s.messageLimit(), logger, &s.wg, nil)
	defer m.close()
	req, err := pipeline.Parse([]byte(discoverProbe))
	if err != nil {
		return "", err
	}
	pctx, cancel := context.WithTimeout(ctx, s.options().ProbeTimeout)
	defer cancel()
	var resp *pipeline.Message
	err = m.call(pctx, req, func(msg *pipeline.Message, _ int) {
		if msg.IsResponse() {
			resp = msg
		}
	})
	if ctx.Err() != nil {
		return "", &BusyError{RetryAfter: time.Second, Err: errSharedClosed}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within %s", s.options().ProbeTimeout)
	}
	era, why := classifyDiscover(resp, err)
	logger.Info("probed the stdio MCP server's era", zap.String("era", era), zap.String("why", why))
	return era, nil
}

// classifyDiscover reads the answer to server/discover (MCP-TRANSPORTS.md
// §2): a result or a -32022 error that lists 2026-07-28 means modern;
// anything else, no answer included, means legacy.
func classifyDiscover(resp *pipeline.Message, err error) (era, why string) {
	switch {
	case err != nil:
		return EraLegacy, "server/discover failed: " + err.Error()
	case resp == nil:
		return EraLegacy, "no answer to server/discover"
	case resp.Result != nil:
		var r struct {
			SupportedVersions []string `json:"supportedVersions"`
		}
		_ = json.Unmarshal(resp.Result, &r)
		if slices.Contains(r.SupportedVersions, modernVersion) {
			return EraModern, "server/discover lists " + modernVersion
		}
		return EraLegacy, fmt.Sprintf("server/discover lists %q only", r.SupportedVersions)
	default:
		var e struct {
			Code int `json:"code"`
			Data struct {
				Supported []string `json:"supported"`
			} `json:"data"`
		}
		_ = json.Unmarshal(resp.Error, &e)
		if e.Code == -32022 && slices.Contains(e.Data.Supported, modernVersion) {
			return EraModern, "server/discover answered -32022 listing " + modernVersion
		}
		return EraLegacy, fmt.Sprintf("server/discover answered error %d", e.Code)
	}
}

// Interface guard.
var _ Stateless = (*Stdio)(nil)
