package stages

import (
	"context"
	"fmt"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/intercept"
)

func init() {
	caddy.RegisterModule(InterceptStage{})
}

// InterceptStage is the pipeline stage of interception rules, evaluated in
// order: set, remove, delay and log go on to the next rule; block and mock
// end the evaluation. A blocked request is answered (HTTP 200) with the
// JSON-RPC error code -32030, the rule's message and error.data
// {"rule", "correlation_id"}.
type InterceptStage struct {
	// Rules are the interception rules, in evaluation order.
	Rules []intercept.Rule `json:"rules,omitempty"`
	// MaxHeld bounds the messages pause rules of the endpoint hold at once
	// (default 100); beyond it a pause's timeout action applies at once.
	MaxHeld int `json:"max_held,omitempty"`

	engine *intercept.Engine
}

// DefaultMaxHeld bounds an endpoint's held messages by default.
const DefaultMaxHeld = 100

// CaddyModule returns the Caddy module information.
func (InterceptStage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  namespace + ".intercept",
		New: func() caddy.Module { return new(InterceptStage) },
	}
}

// Provision compiles the rules.
func (s *InterceptStage) Provision(ctx caddy.Context) error {
	e, err := intercept.New(s.Rules, ctx.Logger())
	if err != nil {
		return fmt.Errorf("intercept: %v", err)
	}
	if s.MaxHeld < 0 {
		return fmt.Errorf("intercept: max_held must not be negative")
	}
	s.engine = e
	return nil
}

// SetEndpoint names the endpoint in what the stage's pause rules hold, and
// in the interceptions it counts (mcpstate.Interceptions)
// (mcp_proxy's pipeline.go calls it once the handler knows its name).
func (s *InterceptStage) SetEndpoint(name string) {
	max := s.MaxHeld
	if max == 0 {
		max = DefaultMaxHeld
	}
	s.engine.HoldIn(mcpstate.Held, name, max)
	s.engine.OnAction(mcpstate.CountInterceptions(name))
}

// StageName names the stage on tapes and in logs (pipeline.Namer).
func (s *InterceptStage) StageName() string { return "intercept" }

// Handle evaluates the rules (pipeline.Stage).
func (s *InterceptStage) Handle(ctx context.Context, ex *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
	return s.engine.Handle(ctx, ex, m)
}

// Interface guards.
var (
	_ caddy.Provisioner = (*InterceptStage)(nil)
	_ pipeline.Stage    = (*InterceptStage)(nil)
)
