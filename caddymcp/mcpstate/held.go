package mcpstate

import (
	"github.com/caddy-mcp/caddy-mcp/pipeline/hold"
)

// Held holds what pause rules hold, for every endpoint. It is
// package-level so that a reload that keeps an endpoint keeps its held
// messages decidable (their sessions, and the goroutines that wait, survive
// the reload).
var Held = hold.NewRegistry()
