package federate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline/filter"
	"github.com/caddy-mcp/caddy-mcp/pipeline/glob"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// Defaults of a federation's settings.
const (
	DefaultSeparator   = "_"
	DefaultServerName  = "caddy-mcp"
	DefaultInitTimeout = 10 * time.Second
	// coalesceWindow is how long list_changed notifications of the
	// servers gather into one to the client.
	coalesceWindow = 50 * time.Millisecond
	// maxPages bounds the pages read of one server's list.
	maxPages = 1000
)

// Server is one MCP server of a federation.
type Server struct {
	// Name is the server's name: 1–32 of [A-Za-z0-9-], without the
	// separator (ValidServerName). It is what the client reads of it.
	Name string
	// Upstream serves the server's sessions.
	Upstream upstream.Upstream
	// Filter hides some of the server's tools, prompts and resources
	// before the lists are merged and names assigned.
	Filter filter.Config
}

// Config is a federation's configuration.
type Config struct {
	// Servers are the servers, in configuration order: that order breaks
	// ties between names and orders the merged lists.
	Servers []Server
	// Prefix is the naming mode (default PrefixAlways).
	Prefix Prefix
	// Separator goes between a server's name and its own name (default "_").
	Separator string
	// ServerName is the serverInfo.name of the gateway's initialize answer
	// (default "caddy-mcp"); ServerVersion its version (default "1").
	ServerName, ServerVersion string
	// InitTimeout bounds the wait for the servers' initialize answers: a
	// server that has not answered by then is left out of the session.
	InitTimeout time.Duration
	// RejoinDelay is the first wait before a server that failed, or was
	// left out, tries to rejoin a session; it doubles up to 30s
	// (default 1s).
	RejoinDelay time.Duration
	// Logger logs what an operator should know (hidden names, servers
	// left out); nil logs nothing.
	Logger *zap.Logger
	// Hidden, if set, is told of each name a server lists that the client
	// does not see because an earlier server has it (list: "tools",
	// "prompts", "resources", "resourceTemplates"), once per name and
	// list, when it is logged: the gateway counts them.
	Hidden func(list string)
}

// Federation is an upstream.Upstream over several servers.
type Federation struct {
	cfg     Config
	names   []string
	filters []*visibility // per server: [tools, prompts, resources]
	log     *zap.Logger
	warned  sync.Map // "kind\x00name" → struct{}: hidden names logged once
	owners  owners
	known   known // 2026-07-28: the latest merged lists, by user
	wg      sync.WaitGroup
}

// visibility is one server's compiled filter rules, by kind.
type visibility [3]*rules

type rules struct{ allow, deny glob.Set }

func compile(r *filter.Rules) *rules {
	if r == nil || len(r.Allow) == 0 && len(r.Deny) == 0 {
		return nil
	}
	return &rules{allow: glob.CompileSet(r.Allow), deny: glob.CompileSet(r.Deny)}
}

func (r *rules) visible(name string) bool {
	if r == nil {
		return true
	}
	return !r.deny.Match(name) && (r.allow == nil || r.allow.Match(name))
}

// New checks cfg and returns its federation.
func New(cfg Config) (*Federation, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("federate: no server")
	}
	if cfg.Separator == "" {
		cfg.Separator = DefaultSeparator
	}
	if err := ValidSeparator(cfg.Separator); err != nil {
		return nil, fmt.Errorf("federate: %v", err)
	}
	p, err := ParsePrefix(string(cfg.Prefix))
	if err != nil {
		return nil, fmt.Errorf("federate: %v", err)
	}
	cfg.Prefix = p
	if cfg.ServerName == "" {
		cfg.ServerName = DefaultServerName
	}
	if cfg.ServerVersion == "" {
		cfg.ServerVersion = "1"
	}
	if cfg.InitTimeout <= 0 {
		cfg.InitTimeout = DefaultInitTimeout
	}
	if cfg.RejoinDelay <= 0 {
		cfg.RejoinDelay = DefaultRejoinDelay
	}
	f := &Federation{cfg: cfg, log: cfg.Logger}
	if f.log == nil {
		f.log = zap.NewNop()
	}
	seen := make(map[string]bool)
	for _, s := range cfg.Servers {
		if err := ValidServerName(s.Name, cfg.Separator); err != nil {
			return nil, fmt.Errorf("federate: %v", err)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("federate: two servers are named %q", s.Name)
		}
		if s.Upstream == nil {
			return nil, fmt.Errorf("federate: server %s has no upstream", s.Name)
		}
		seen[s.Name] = true
		f.names = append(f.names, s.Name)
		f.filters = append(f.filters, &visibility{compile(s.Filter.Tools), compile(s.Filter.Prompts), compile(s.Filter.Resources)})
	}
	return f, nil
}

// Names returns the servers' names in configuration order.
func (f *Federation) Names() []string { return f.names }

// Wait blocks until every goroutine of the federation's sessions returned.
func (f *Federation) Wait() { f.wg.Wait() }

// goTracked runs fn on a goroutine Wait waits for.
func (f *Federation) goTracked(fn func()) {
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		fn()
	}()
}

// Open opens a session on every server, concurrently. A server whose open
// fails is left out of the session; when every one fails, Open returns the
// first server's error (a BusyError stays one, for the client's 503).
func (f *Federation) Open(ctx context.Context, r upstream.Receiver) (upstream.Conn, error) {
	if r == nil {
		return nil, errors.New("federate: Open needs a Receiver")
	}
	c := newConn(f, r)
	ctx, cancel := context.WithTimeout(ctx, f.cfg.InitTimeout) // the slowest server bounds the open
	defer cancel()
	errs := make([]error, len(f.cfg.Servers))
	var wg sync.WaitGroup
	for i, s := range f.cfg.Servers {
		m := c.members[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := s.Upstream.Open(ctx, m)
			if err != nil {
				errs[i] = err
				return
			}
			m.setConn(conn)
		}()
	}
	wg.Wait()
	open := 0
	for i, err := range errs {
		if err == nil {
			open++
			continue
		}
		c.members[i].markDown()
		f.log.Warn("a federated server could not open a session; the session goes on without it",
			zap.String("server", f.names[i]), zap.Error(err))
	}
	if open == 0 {
		c.Close()
		for _, err := range errs {
			var busy *upstream.BusyError
			if errors.As(err, &busy) {
				return nil, err
			}
		}
		return nil, fmt.Errorf("server %s: %w", f.names[0], errs[0])
	}
	return c, nil
}

// Interface guards.
var (
	_ upstream.Upstream  = (*Federation)(nil)
	_ upstream.Stateless = (*Federation)(nil)
)
