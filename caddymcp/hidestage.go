package caddymcp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/filter"
)

// maxHidings bounds the claims whose filter the hide stage keeps, as
// mcp_auth bounds the scope sets whose hidden set it keeps.
const maxHidings = 1024

// hideStage applies, to each message, what the claim mcpstate.HiddenClaim of its
// request (for a response: of the request it answers) says the token may
// not see.
type hideStage struct {
	mu      sync.Mutex
	filters map[string]*filter.Filter // by claim; bounded by maxHidings
}

func newHideStage() *hideStage { return &hideStage{filters: make(map[string]*filter.Filter)} }

// StageName names the stage on tapes and in logs (pipeline.Namer).
func (s *hideStage) StageName() string { return "hide_unauthorized" }

// Handle filters as the request's claim says (pipeline.Stage).
func (s *hideStage) Handle(ctx context.Context, ex *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
	if ex.Claim == nil {
		return pipeline.Verdict{}
	}
	claim, ok := ex.Claim(mcpstate.HiddenClaim)
	if !ok || claim == "" {
		return pipeline.Verdict{}
	}
	f := s.filterOf(claim)
	if f == nil {
		return pipeline.Verdict{}
	}
	return f.Handle(ctx, ex, m)
}

// filterOf compiles a claim once.
func (s *hideStage) filterOf(claim string) *filter.Filter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.filters[claim]; ok {
		return f
	}
	var c filter.Config
	if json.Unmarshal([]byte(claim), &c) != nil {
		return nil // only mcp_auth sets it, from a Config
	}
	f := filter.New(c)
	if len(s.filters) >= maxHidings {
		clear(s.filters)
	}
	s.filters[claim] = f
	return f
}

// Interface guard.
var _ pipeline.Stage = (*hideStage)(nil)

// mcpApp loads the configuration's mcp app.
func mcpApp(ctx caddy.Context) (*App, error) {
	app, err := ctx.App("mcp")
	if err != nil {
		return nil, err
	}
	return app.(*App), nil
}

// hideStageFor returns the stage that applies hide_unauthorized when an
// mcp_auth of this configuration has it (provisioned before mcp_proxy,
// as a route's handlers are), else nil.
func hideStageFor(ctx caddy.Context) (*hideStage, error) {
	app, err := mcpApp(ctx)
	if err != nil {
		return nil, fmt.Errorf("mcp_proxy: %v", err)
	}
	if !app.shared.HideUnauthorized.Load() {
		return nil, nil
	}
	return newHideStage(), nil
}

// refuseUnhidden answers a request that an mcp_auth with
// hide_unauthorized let through, when this mcp_proxy has no hide stage
// (it was provisioned before that mcp_auth): a call of a hidden tool
// would reach the upstream without its scopes. True when it answered.
func (h *Handler) refuseUnhidden(w http.ResponseWriter, r *http.Request) bool {
	if h.hide != nil {
		return false
	}
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return false
	}
	if _, set := repl.GetString("http.auth.user." + mcpstate.HiddenClaim); !set {
		return false
	}
	h.logger.Error("mcp_proxy: an mcp_auth with hide_unauthorized guards this endpoint, but it was provisioned after this mcp_proxy, which therefore cannot hide; order mcp_auth's route before mcp_proxy's")
	mcphttp.WriteError(w, http.StatusInternalServerError, pipeline.CodeInternalError,
		"Internal Server Error: the gateway is misconfigured (mcp_auth's hide_unauthorized cannot be applied here); the log says why")
	return true
}
