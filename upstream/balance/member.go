package balance

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// ErrMemberDown is the cause a session gets when its member is taken out
// of service (its health check failed or its breaker opened).
var ErrMemberDown = errors.New("the upstream serving the session is down")

// namePattern is what a member's name may hold: it shows in the admin
// API, metrics labels, logs and the tags of cursors, so it is short,
// secret-free text without the tag's separator.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ValidMemberName reports why name cannot name a member, or nil: a name
// ValidName accepts, or a federated server's replica, <server>/<replica>
// with each part such a name ("/" is not the tag's separator).
func ValidMemberName(name string) error {
	server, replica, ok := strings.Cut(name, "/")
	if !ok || ValidName(server) != nil {
		return ValidName(name)
	}
	return ValidName(replica)
}

// ValidName reports why name cannot name a member, or nil.
func ValidName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("upstream name %q must be 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit", name)
	}
	return nil
}

// Member is one upstream of a group, with its health and its live
// sessions. A Member outlives the configurations that use it (the caller
// keeps it across reloads, e.g. in a usage pool), so that a reload keeps
// its health and its sessions' fate; SetUpstream and SetHealth give it a
// new configuration's values.
type Member struct {
	name   string
	kind   string
	up     atomic.Pointer[upstreamBox]
	logger *zap.Logger

	sessions  atomic.Int64 // live sessions opened through the member
	notClosed atomic.Bool  // the breaker is open or half-open (mirrors breaker)

	sessionsOnlyUntil atomic.Int64 // unix nanoseconds: passed over for 2026 requests until then (era.go)

	mu      sync.Mutex
	conns   map[*memberConn]struct{}
	health  HealthConfig
	checkOK bool        // the last active check passed (true until one fails)
	checkAt time.Time   // when the last active check ran
	checkEr string      // the last active check's failure, for the admin API
	fails   []time.Time // passive failures within health.FailDuration, oldest first
	total   int64       // passive failures since the member was made
	breaker breakerState
	opened  time.Time // when the breaker last opened
	checker *checker  // the active check loop, while one runs
}

// upstreamBox lets an interface value sit in an atomic.Pointer.
type upstreamBox struct{ up upstream.Upstream }

// NewMember returns a member named name (see ValidMemberName) serving
// from up; kind ("stdio", "http", …) is what the admin API shows of it.
func NewMember(name, kind string, up upstream.Upstream, logger *zap.Logger) (*Member, error) {
	if err := ValidMemberName(name); err != nil {
		return nil, err
	}
	if up == nil {
		return nil, errors.New("balance: a member needs an upstream")
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	m := &Member{name: name, kind: kind, logger: logger.With(zap.String("upstream_name", name)),
		conns: make(map[*memberConn]struct{}), checkOK: true}
	m.up.Store(&upstreamBox{up})
	return m, nil
}

// Name is the member's name.
func (m *Member) Name() string { return m.name }

// Kind is the member's kind, as given to NewMember.
func (m *Member) Kind() string { return m.kind }

// Upstream is the upstream new sessions and requests of the member use.
func (m *Member) Upstream() upstream.Upstream { return m.up.Load().up }

// SetUpstream makes new sessions and requests use up (a reload's); the
// sessions already open stay on the upstream they were opened on.
func (m *Member) SetUpstream(up upstream.Upstream) { m.up.Store(&upstreamBox{up}) }

// Sessions is the number of live sessions opened through the member.
func (m *Member) Sessions() int { return int(m.sessions.Load()) }

// Available reports whether the member takes new work now: its last
// active check passed and its breaker is closed, or open for long enough
// that a trial may go through (which this call does not claim).
func (m *Member) Available(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.availableLocked(now)
}

// track adds a live connection of the member.
func (m *Member) track(c *memberConn) {
	m.sessions.Add(1)
	m.mu.Lock()
	m.conns[c] = struct{}{}
	m.mu.Unlock()
}

// forget removes a connection that ended.
func (m *Member) forget(c *memberConn) {
	m.mu.Lock()
	_, ok := m.conns[c]
	delete(m.conns, c)
	m.mu.Unlock()
	if ok {
		m.sessions.Add(-1)
	}
}

// takeDown ends every session of the member: its clients get 404 on their
// next request and initialize again on a member that is up.
func (m *Member) takeDown(why string) {
	m.mu.Lock()
	conns := make([]*memberConn, 0, len(m.conns))
	for c := range m.conns {
		conns = append(conns, c)
	}
	m.mu.Unlock()
	if len(conns) > 0 {
		m.logger.Warn("upstream down: ending its sessions", zap.String("why", why), zap.Int("sessions", len(conns)))
	}
	for _, c := range conns {
		c.die(fmt.Errorf("%w: %s", ErrMemberDown, why))
	}
}
