package stages

import (
	"cmp"
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
	// MaxDecode bounds, in bytes of JSON, the objects and arrays a rule
	// decodes: a field's value, or one an expression uses whole (default
	// 1 MiB: decoding costs many times the size). A rule that would have to
	// decode more applies as if it matched (a block answers "the message is
	// too large for the gateway's rule to judge"), with a warning and a
	// count. Strings, and members an expression reaches one by one, are read
	// whatever their size.
	MaxDecode int64 `json:"max_decode,omitempty"`

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
	if s.MaxDecode < 0 {
		return fmt.Errorf("intercept: max_decode must not be negative")
	}
	e.MaxDecode(s.MaxDecode)
	s.engine = e
	return nil
}

// SetEndpoint names the endpoint in what the stage's pause rules hold, and
// in the interceptions it counts (and those it could not judge)
// (mcp_proxy's pipeline.go calls it once the handler knows its name).
func (s *InterceptStage) SetEndpoint(name string) {
	s.engine.HoldIn(mcpstate.Held, name, cmp.Or(s.MaxHeld, DefaultMaxHeld))
	s.engine.OnAction(mcpstate.CountInterceptions(name))
	s.engine.OnTooLarge(mcpstate.CountTooLarge(name))
}

// StageName names the stage on tapes and in logs (pipeline.Namer).
func (s *InterceptStage) StageName() string { return "intercept" }

// Handle evaluates the rules (pipeline.Stage).
func (s *InterceptStage) Handle(ctx context.Context, ex *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
	return s.engine.Handle(ctx, ex, m)
}

// ReadPointers lists the pointers of the rules' field matches and their
// set and remove actions, whichever direction they apply to.
func (s *InterceptStage) ReadPointers() []string {
	var out []string
	for _, r := range s.Rules {
		for _, f := range r.Fields {
			out = append(out, f.Pointer)
		}
		for _, a := range r.Actions {
			if a.Pointer != "" {
				out = append(out, a.Pointer)
			}
		}
	}
	return out
}

// Interface guards.
var (
	_ caddy.Provisioner = (*InterceptStage)(nil)
	_ pipeline.Stage    = (*InterceptStage)(nil)
)
