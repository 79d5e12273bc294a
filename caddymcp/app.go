package caddymcp

import (
	"errors"
	"sync"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/pool"
)

func init() {
	caddy.RegisterModule(new(App))
}

// App owns the process pools of a configuration's mcp_proxy handlers and
// starts them — warm spares included — when the configuration starts. It
// exists because `caddy validate` provisions handlers but never starts apps:
// validating a config must not spawn MCP servers. Handlers load it
// implicitly; it has nothing to configure.
type App struct {
	mu     sync.Mutex
	pools  []appPool
	checks []func() error // what must hold before anything starts (beforeStart)
	starts []func() error // more to do when the configuration starts

	shared mcpstate.Shared // what its mcp_auth handlers tell its mcp_proxy handlers

	endpoints map[string]endpointClaim // endpoint names (session store keys) claimed by its mcp_proxy handlers (endpoints.go)
}

// appPool is a pool to start, and the new limits of a pool kept from the
// configuration being replaced (nil for a new pool).
type appPool struct {
	pool  *pool.Pool
	apply func() error
}

// CaddyModule returns the Caddy module information.
func (*App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "mcp",
		New: func() caddy.Module { return new(App) },
	}
}

// register adds a pool to start with the configuration; apply, if not nil,
// gives a pool kept across a reload this configuration's limits.
func (a *App) register(p *pool.Pool, apply func() error) {
	a.mu.Lock()
	a.pools = append(a.pools, appPool{pool: p, apply: apply})
	a.mu.Unlock()
}

// beforeStart adds f to what Start checks before it starts any pool: a
// check that provisioning could not decide, since it also runs for caddy
// validate, which may run where placeholders resolve otherwise.
func (a *App) beforeStart(f func() error) {
	a.mu.Lock()
	a.checks = append(a.checks, f)
	a.mu.Unlock()
}

// onStart adds f to what Start does, after the pools started: e.g. giving
// an upstream kept across a reload this configuration's health settings.
func (a *App) onStart(f func() error) {
	a.mu.Lock()
	a.starts = append(a.starts, f)
	a.mu.Unlock()
}

// Start runs the checks left for it (beforeStart), then applies the new
// limits of pools kept across a reload and starts keeping warm spares in
// every registered pool. Pools kept across a reload are already running;
// Start is idempotent for them.
func (a *App) Start() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	for _, f := range a.checks {
		errs = append(errs, f())
	}
	if err := errors.Join(errs...); err != nil {
		return err // nothing started
	}
	for _, p := range a.pools {
		if p.apply != nil {
			errs = append(errs, p.apply())
		}
		p.pool.Start()
	}
	for _, f := range a.starts {
		errs = append(errs, f())
	}
	return errors.Join(errs...)
}

// Shared returns the state the configuration's modules share (mcpstate).
func (a *App) Shared() *mcpstate.Shared { return &a.shared }

// Stop does nothing: pools outlive configurations and are stopped by their
// usage pool when the last configuration using them is cleaned up.
func (a *App) Stop() error { return nil }

// Interface guards.
var _ caddy.App = (*App)(nil)
