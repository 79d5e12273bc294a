package caddymcp

import (
	"sync"

	"github.com/caddyserver/caddy/v2"

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
	mu    sync.Mutex
	pools []*pool.Pool
}

// CaddyModule returns the Caddy module information.
func (*App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "mcp",
		New: func() caddy.Module { return new(App) },
	}
}

// register adds a pool to start with the configuration.
func (a *App) register(p *pool.Pool) {
	a.mu.Lock()
	a.pools = append(a.pools, p)
	a.mu.Unlock()
}

// Start starts keeping warm spares in every registered pool. Pools kept
// across a reload are already running; Start is idempotent for them.
func (a *App) Start() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range a.pools {
		p.Start()
	}
	return nil
}

// Stop does nothing: pools outlive configurations and are stopped by their
// usage pool when the last configuration using them is cleaned up.
func (a *App) Stop() error { return nil }

// Interface guards.
var _ caddy.App = (*App)(nil)
