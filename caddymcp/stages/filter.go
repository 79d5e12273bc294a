package stages

import (
	"context"
	"fmt"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/filter"
)

func init() {
	caddy.RegisterModule(FilterStage{})
}

// FilterStage hides tools, prompts and resources: list results lose them
// (every page), and a call, get, read or subscribe of a hidden name gets
// the error an upstream gives for an unknown one (-32602). Deny wins over
// allow; with no allow, everything not denied is visible.
type FilterStage struct {
	filter.Config

	filter *filter.Filter
}

// CaddyModule returns the Caddy module information.
func (FilterStage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  namespace + ".filter",
		New: func() caddy.Module { return new(FilterStage) },
	}
}

// Provision checks and compiles the globs: a name pattern that can only be
// a regexp fails the load, a URI pattern that looks like one is warned of.
func (s *FilterStage) Provision(ctx caddy.Context) error {
	warnings, err := s.Config.Check()
	if err != nil {
		return fmt.Errorf("filter: %w", err)
	}
	for _, w := range warnings {
		ctx.Logger().Warn(w)
	}
	s.filter = filter.New(s.Config)
	return nil
}

// StageName names the stage on tapes and in logs (pipeline.Namer).
func (s *FilterStage) StageName() string { return "filter" }

// Handle applies the filter (pipeline.Stage).
func (s *FilterStage) Handle(ctx context.Context, ex *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
	return s.filter.Handle(ctx, ex, m)
}

// Interface guards.
var (
	_ caddy.Provisioner = (*FilterStage)(nil)
	_ pipeline.Stage    = (*FilterStage)(nil)
)
