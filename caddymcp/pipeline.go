package caddymcp

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcptrace"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// StagesNamespace is the Caddy module namespace of pipeline stages. A stage
// module (this project's intercept and filter, or a third party's) is a
// guest module there whose value implements pipeline.Stage; mcp_proxy's
// "pipeline" lists them, each named by its "stage" key:
//
//	"pipeline": [{"stage": "filter", "tools": {"deny": ["rm_*"]}},
//	             {"stage": "intercept", "rules": [...]}]
//
// Messages to the server pass the stages first to last, messages to the
// client last to first.
const StagesNamespace = "http.handlers.mcp_proxy.stages"

// provisionPipeline loads the configured stages into a chain, with the
// recorder as its tap; nil when there is neither, which costs the message
// path nothing.
func (h *Handler) provisionPipeline(ctx caddy.Context) (*pipeline.Chain, error) {
	rec, err := h.recordTap(ctx)
	if err != nil {
		return nil, err
	}
	if h.hide, err = hideStageFor(ctx); err != nil {
		return nil, err
	}
	var stages []pipeline.Stage
	if h.hide != nil {
		// First: to the server a hidden name is refused before any rule
		// sees it; to the client lists are filtered after every rule.
		stages = append(stages, h.hide)
	}
	if len(h.Pipeline) > 0 {
		mods, err := ctx.LoadModule(h, "Pipeline")
		if err != nil {
			return nil, fmt.Errorf("mcp_proxy: pipeline: %v", err)
		}
		for i, m := range mods.([]any) {
			s, ok := m.(pipeline.Stage)
			if !ok {
				return nil, fmt.Errorf("mcp_proxy: pipeline stage %d (%T) does not implement pipeline.Stage", i, m)
			}
			if named, ok := s.(interface{ SetEndpoint(string) }); ok {
				named.SetEndpoint(h.storeKey)
			}
			stages = append(stages, namedStage(s))
		}
	}
	pin, err := h.pinStage(ctx)
	if err != nil {
		return nil, err
	}
	if pin != nil {
		// Last: it sees the server's own lists before any stage changed
		// them, and a call only once every rule let it through.
		stages = append(stages, pin)
	}
	if h.watch, err = stagesWatch(stages); err != nil {
		return nil, err
	}
	if len(stages) == 0 && rec == nil {
		return nil, nil
	}
	chain := pipeline.NewChain(stages...)
	if len(stages) > 0 {
		chain = chain.WithTaps(mcptrace.Tap{}) // tracing.go
	}
	if rec != nil {
		// A tap, not a stage: it records each message with the chain's
		// final decision (passed, modified, blocked, mocked, held), what
		// went on and what arrived.
		chain = chain.WithTaps(rec)
	}
	return chain, nil
}

// stageName names a guest stage module by its module name (e.g.
// "intercept"), for taps and logs, unless it names itself.
type stageName struct {
	pipeline.Stage
	name string
}

// StageName implements pipeline.Namer.
func (s stageName) StageName() string { return s.name }

// namedStage gives a stage module without a name of its own its module's name.
func namedStage(s pipeline.Stage) pipeline.Stage {
	if _, ok := s.(pipeline.Namer); ok {
		return s
	}
	if mod, ok := s.(caddy.Module); ok {
		return stageName{Stage: s, name: mod.CaddyModule().ID.Name()}
	}
	return s
}
