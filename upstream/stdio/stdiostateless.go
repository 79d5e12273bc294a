package stdio

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/tags"
)

// Values of Options.Protocol: which MCP era a stdio server speaks.
const (
	// ProtocolAuto probes the server once, with server/discover on a
	// throwaway process, and remembers the answer.
	ProtocolAuto = "auto"
	// ProtocolLegacy: the 2025 revisions only (initialize, sessions).
	ProtocolLegacy = "legacy"
	// ProtocolModern: the server also serves 2026-07-28 requests.
	ProtocolModern = "modern"
)

// Eras reported by (*Upstream).Era.
const (
	EraLegacy = "legacy"
	EraModern = "modern"
)

// Defaults of Options.
const (
	DefaultProbeTimeout   = 10 * time.Second
	DefaultShared         = 2
	DefaultSharedInFlight = 64
	// MaxUserShares bounds the users that hold a share of processes at
	// once (each share costs up to Shared processes of the pool).
	MaxUserShares = 256
	// ShareIdleTimeout is how long a user's share stays without a request
	// in flight before its processes are stopped (as the pool's default
	// idle_timeout for surplus spares).
	ShareIdleTimeout = time.Minute
)

// NoShared is the Options.Shared value that turns stateless serving
// over stdio off: every 2026-07-28 request is answered as a server of the
// 2025 revisions answers it (ErrSessionfulOnly), so the client falls back to
// initialize and gets a session, and a process, of its own. It exists
// because the zero value of Shared means "the default".
const NoShared = -1

// sharedWait is how long a Call waits for room on the shared processes
// before it fails busy (as long as the pool's default acquire wait).
const sharedWait = 5 * time.Second

// modernVersion is the stateless revision the shared processes serve.
const modernVersion = "2026-07-28"

// errSharedClosed is the cause of a Call after Close.
var errSharedClosed = errors.New("upstream: the stdio upstream was closed")

// Options configures how a Upstream serves 2026-07-28 requests. The zero
// value of each field means its default.
type Options struct {
	// Protocol is ProtocolAuto (default), ProtocolLegacy or ProtocolModern.
	Protocol string
	// ProbeTimeout bounds the wait for the answer to server/discover in the
	// auto probe, once the process answered a ping (default 10s); no answer
	// in time means legacy until the probe is retried (see Era).
	ProbeTimeout time.Duration
	// Shared is the most processes that serve 2026-07-28 requests together,
	// per user (0: the default, 2; NoShared: none, stateless serving is
	// off). They come from the same pool as the sessions' processes, so the
	// pool's max_processes bounds both.
	Shared int
	// MaxInFlight is the most requests in flight on one shared process
	// (default 64); another process starts when every one is at it.
	MaxInFlight int
	// Name is the upstream's configured name, which traces give its
	// exchanges ("" leaves it out).
	Name string
}

func (o Options) withDefaults() Options {
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
func (o Options) Validate() error {
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
	if o.Shared < 0 && o.Shared != NoShared {
		errs = append(errs, fmt.Errorf("shared must be zero (off) or positive, got %d", o.Shared))
	}
	if o.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("the in-flight limit of a shared process must be positive, got %d", o.MaxInFlight))
	}
	return errors.Join(errs...)
}

// NewWithOptions is New with options for 2026-07-28 requests.
func NewWithOptions(p *pool.Pool, maxMessageSize int, logger *zap.Logger, opts Options) (*Upstream, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Upstream{
		pool:           p,
		maxMessageSize: maxMessageSize,
		logger:         logger,
		opts:           opts.withDefaults(),
		closeCtx:       ctx,
		closeCancel:    cancel,
		shared:         sharedSet{changed: make(chan struct{}), users: make(map[string]*share)},
	}, nil
}

// Call serves one 2026-07-28 request (Stateless) on a process shared with
// other clients of the same user (req.User; "" is the anonymous share): the
// least loaded one of the user's share, or a new one from the pool while
// the share has fewer than Shared and all are at MaxInFlight. A
// subscriptions/listen takes no request slot: it rides on the least loaded
// process of the share, so open listens never lock a process. The
// request's id, its progressToken and (for subscriptions/listen) its
// subscription id are the mux's while upstream; what reaches deliver
// carries the client's again. deliver is called on Call's goroutine, in
// order, never after Call returned, always with status 200.
//
// Call returns ErrSessionfulOnly at once when the server speaks only the 2025
// revisions (Protocol legacy, or what the auto probe found) or when Shared
// is NoShared; a *BusyError when no process is free within a few seconds,
// the pool is full or closed, or MaxUserShares users hold a share each and
// none is idle; ctx.Err() when ctx ends first (the server gets
// notifications/cancelled with the request's upstream id and nothing more
// is delivered); an error naming the process when it exited before
// answering (a listen stream ends that way too; the next Call starts a new
// process). A client notification is forwarded to a running process of the
// user's share (dropped when none runs), except notifications/cancelled and
// notifications/progress, whose ids mean nothing upstream: those are dropped.
//
// With Shared above 1, what a process mints and only it may understand — a
// list's nextCursor, an input_required result's requestState, a task id —
// reaches the client tagged with that process (package tags, Kinds All),
// and a request carrying such a tag goes to that process, whatever its
// load. A task id naming a process the user's share does not hold (it
// exited, or the tag is forged) is answered -32602, as a server answers a
// task it does not know; a cursor or requestState naming one goes to any
// process of the share, which judges it (see namesTask).
func (s *Upstream) Call(ctx context.Context, req *upstream.StatelessRequest, deliver func(m *pipeline.Message, status int)) error {
	if req == nil || req.Message == nil || deliver == nil {
		return errors.New("upstream: Call needs a request message and a deliver function")
	}
	msg := req.Message
	if s.statelessOpts().Shared == NoShared {
		return upstream.ErrSessionfulOnly // stateless serving is off: sessions only
	}
	era, err := s.Era(ctx)
	if err != nil {
		return err
	}
	if era != EraModern {
		return upstream.ErrSessionfulOnly
	}
	switch msg.Kind {
	case pipeline.KindRequest:
	case pipeline.KindNotification:
		s.notify(req.User, msg)
		return nil
	default:
		return errors.New("upstream: 2026-07-28 clients send no responses")
	}
	name, msg, err := tags.Untag(msg, tags.All)
	if err != nil {
		deliver(tags.Invalid(msg.ID), 200) // ErrForged, or params it cannot rebuild
		return nil
	}
	sh, err := s.pinShare(req.User)
	if err != nil {
		return err
	}
	defer s.unpinShare(sh)
	listen := msg.Method == "subscriptions/listen"
	var sp *sharedProc
	if name != "" {
		sp = s.acquireNamed(sh, tags.Process(name), listen)
		if sp == nil && namesTask(msg) {
			deliver(tags.Invalid(msg.ID), 200) // as the server answers a task it does not know
			return nil
		}
	}
	if sp == nil {
		// Untagged, or a cursor or requestState of a process this share
		// does not hold (see namesTask): any process, which judges it.
		if sp, err = s.acquireShared(ctx, sh, listen); err != nil {
			return err
		}
	}
	defer s.releaseShared(sp, listen)
	deliver = s.tagProcess(ctx, sp, msg.Method, deliver)
	msg, _, end := upstream.TraceExchange(ctx, s.Peer(), msg)
	if end == nil {
		return sp.mux.call(ctx, msg, deliver)
	}
	var answer *pipeline.Message
	err = sp.mux.call(ctx, msg, func(m *pipeline.Message, status int) {
		if m.IsResponse() {
			answer = m
		}
		deliver(m, status)
	})
	end(answer, err)
	return err
}

// tagProcess tags the cursors, requestState and task ids sp mints in what
// it delivers, when the share may hold more than one process: a task lives
// in the process that made it, and a server may mint cursors and
// requestState that only that process can read back, so the request that
// brings one must come back there (acquireNamed). With a cluster
// (tags.Clustered) every process tags, as Owned: the process lives on
// this instance, and the sealed tag names it as owner.
func (s *Upstream) tagProcess(ctx context.Context, sp *sharedProc, method string, deliver func(*pipeline.Message, int)) func(*pipeline.Message, int) {
	name := sp.name
	if tags.Clustered(ctx) {
		name = tags.Owned(name)
	} else if s.statelessOpts().Shared <= 1 {
		return deliver
	}
	return func(m *pipeline.Message, status int) {
		if m.IsResponse() {
			m = tags.Tag(m, method, name, tags.All)
		} else {
			m = tags.Notification(m, name, tags.All)
		}
		deliver(m, status)
	}
}

// namesTask reports whether request m (untagged) names a task: a task
// lives in the process that made it and nowhere else, so a request naming
// one of a process that is gone is answered as an unknown task. A cursor
// or requestState of such a process goes to any process of the share
// instead: most servers mint them so that any copy can read them back,
// one that cannot answers as it does to a cursor it does not know, and a
// cached page of a list (shared by every user, and kept after its process
// exits) must not name a process for good.
func namesTask(m *pipeline.Message) bool {
	if _, ok := pipeline.ValueAt(m.Params, taskIDPath); ok {
		return true
	}
	_, ok := pipeline.ValueAt(m.Params, listenIDsPath)
	return ok
}

// The params members that name tasks.
var (
	taskIDPath    = []string{"taskId"}
	listenIDsPath = []string{"notifications", "taskIds"}
)

// notify forwards a client notification to the least loaded process of the
// user's share.
func (s *Upstream) notify(user string, msg *pipeline.Message) {
	if msg.Method == "notifications/cancelled" || msg.Method == "notifications/progress" {
		s.logger.Debug("dropped a 2026-07-28 client notification that names a request", zap.String("method", msg.Method))
		return
	}
	set := &s.shared
	set.mu.Lock()
	var sp *sharedProc
	if sh := set.shareLocked(user); sh != nil {
		sp = sh.leastLoaded(int(^uint(0) >> 1))
	}
	set.mu.Unlock()
	if sp == nil || !sp.mux.send(msg.Raw) {
		s.logger.Debug("dropped a 2026-07-28 client notification: no shared process can take it", zap.String("method", msg.Method))
	}
}

// statelessOpts returns the options that shape Call.
func (s *Upstream) statelessOpts() Options { return s.options() }

// acquireError maps a pool.Acquire failure as Open does.
func acquireError(err error) error {
	if wait, full := pool.RetryAfter(err); full {
		return &upstream.BusyError{RetryAfter: wait, Err: err}
	}
	if errors.Is(err, pool.ErrClosed) {
		return &upstream.BusyError{RetryAfter: time.Second, Err: err}
	}
	return err
}

// Peer implements upstream.PeerDescriber: a process on a pipe.
func (s *Upstream) Peer() upstream.Peer {
	return upstream.Peer{Name: s.statelessOpts().Name, Transport: "pipe"}
}

// Interface guards.
var (
	_ upstream.Stateless     = (*Upstream)(nil)
	_ upstream.PeerDescriber = (*Upstream)(nil)
)
