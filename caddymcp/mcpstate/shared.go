package mcpstate

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
)

// HiddenClaim is the claim that carries what a request's token may not
// see. mcp_auth never copies a token's own claim of that name (setUser).
const HiddenClaim = "mcp_auth_hidden"

// Shared is what the modules of one configuration tell each other, held
// by its mcp app (caddymcp.App) and so made anew at each config load:
// mcp_auth registers what it guards and whether it hides, and the
// mcp_proxy handlers provisioned after it read that.
type Shared struct {
	mu sync.Mutex

	// HideUnauthorized is set when an mcp_auth hides what tokens may not
	// use (mcpauth/hide.go); mcp_proxy then runs the hide stage.
	HideUnauthorized atomic.Bool

	guards atomic.Pointer[[]Guard] // what the configuration's mcp_auth handlers guard (guards.go)
}

// SharedOf returns the state the modules of ctx's configuration share,
// loading its mcp app if no module did yet.
func SharedOf(ctx caddy.Context) (*Shared, error) {
	app, err := ctx.App("mcp")
	if err != nil {
		return nil, err
	}
	s, ok := app.(interface{ Shared() *Shared })
	if !ok {
		return nil, fmt.Errorf("the mcp app (%T) holds no shared state", app)
	}
	return s.Shared(), nil
}
