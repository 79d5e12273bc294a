package caddymcp

import (
	"context"
	"fmt"

	"github.com/caddyserver/caddy/v2"

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

	engine *intercept.Engine
}

// CaddyModule returns the Caddy module information.
func (InterceptStage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  StagesNamespace + ".intercept",
		New: func() caddy.Module { return new(InterceptStage) },
	}
}

// Provision compiles the rules.
func (s *InterceptStage) Provision(ctx caddy.Context) error {
	e, err := intercept.New(s.Rules, ctx.Logger())
	if err != nil {
		return fmt.Errorf("intercept: %v", err)
	}
	s.engine = e
	return nil
}

// Handle evaluates the rules (pipeline.Stage).
func (s *InterceptStage) Handle(ctx context.Context, ex *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
	return s.engine.Handle(ctx, ex, m)
}

// Interface guards.
var (
	_ caddy.Provisioner = (*InterceptStage)(nil)
	_ pipeline.Stage    = (*InterceptStage)(nil)
)
