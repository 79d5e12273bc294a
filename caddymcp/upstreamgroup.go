package caddymcp

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/balance"
)

// Defaults of passive health for an endpoint of several upstreams (with
// one, passive health is off unless fail_duration is set, as in
// reverse_proxy: there is nowhere else to send the work).
const (
	DefaultFailDuration = 30 * time.Second
)

// HealthChecks configures how an endpoint's upstreams are judged.
type HealthChecks struct {
	// Interval is the period of active checks (default: none). An HTTP
	// upstream gets a short MCP exchange (server/discover for a 2026-07-28
	// server, else initialize, ping and the session's DELETE), or with URI
	// a plain GET; a stdio upstream fails on a crash loop.
	Interval caddy.Duration `json:"interval,omitempty"`
	// Timeout bounds one active check (default 5s).
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// URI makes the active check of an HTTP upstream a GET of this path
	// (and query) on the upstream's scheme, host and port; 2xx passes.
	URI string `json:"uri,omitempty"`
	// FailDuration is how long a passive failure counts (default 30s with
	// several upstreams, off with one); it is also how long an open
	// circuit breaker waits before a trial.
	FailDuration caddy.Duration `json:"fail_duration,omitempty"`
	// MaxFails is how many failures within FailDuration open the breaker (default 3).
	MaxFails int `json:"max_fails,omitempty"`
	// UnhealthyLatency makes answers slower than this failures (default: off).
	UnhealthyLatency caddy.Duration `json:"unhealthy_latency,omitempty"`
}

// memberEntry is an upstream's health and live sessions, kept across
// reloads in memberStates.
type memberEntry struct{ member *balance.Member }

// Destruct stops the member's active checks once no configuration uses it.
func (e *memberEntry) Destruct() error {
	e.member.StopChecks()
	return nil
}

// memberStates holds *memberEntry values keyed by endpoint, upstream name
// and what defines the upstream.
var memberStates = caddy.NewUsagePool()

// group builds the endpoint's upstream from its built upstreams: the one
// itself when it is alone and no health is judged (nothing to choose, so
// nothing in the way), else a balance group. The members' new settings
// apply when the configuration starts.
func (h *Handler) group(ctx caddy.Context, app *App, storeKey string, built []*provisionedUpstream) (upstream.Upstream, error) {
	hc := h.healthConfig(len(built))
	members := make([]*balance.Member, len(built))
	for i, b := range built {
		key := storeKey + "|" + b.name + "|" + memberKey(h.Upstreams[i], h)
		val, _, err := memberStates.LoadOrNew(key, func() (caddy.Destructor, error) {
			m, err := balance.NewMember(b.name, b.kind, b.up, h.logger.Named("upstream"))
			return &memberEntry{member: m}, err
		})
		if err != nil {
			return nil, err
		}
		h.memberKeys = append(h.memberKeys, key)
		members[i] = val.(*memberEntry).member
		cfg := hc
		cfg.Check = b.check
		if b.kind == mcpstate.KindHTTP {
			cfg.Check = balance.MCPCheck()
			if h.HealthChecks != nil && h.HealthChecks.URI != "" {
				cfg.Check = uriCheck(h.Upstreams[i].HTTP, h.HealthChecks.URI)
			}
		}
		m, up := members[i], b.up
		app.onStart(func() error {
			m.SetUpstream(up)
			m.SetHealth(cfg)
			m.StartChecks()
			return nil
		})
	}
	h.members = members
	if len(built) == 1 && (h.HealthChecks == nil || (h.HealthChecks.Interval == 0 && h.HealthChecks.FailDuration == 0)) {
		return built[0].up, nil
	}
	policy, err := h.selectionPolicy(members)
	if err != nil {
		return nil, err
	}
	retries := len(built) - 1
	if h.LBRetries != nil {
		retries = *h.LBRetries
	}
	g, err := balance.New(balance.Config{Members: members, Policy: policy, Retries: retries})
	if err != nil {
		return nil, err
	}
	h.balance = g
	return g, nil
}

// healthConfig is the members' health settings, with the defaults for an
// endpoint of n upstreams.
func (h *Handler) healthConfig(n int) balance.HealthConfig {
	var c balance.HealthConfig
	if hc := h.HealthChecks; hc != nil {
		c = balance.HealthConfig{
			Interval: time.Duration(hc.Interval), Timeout: time.Duration(hc.Timeout),
			FailDuration: time.Duration(hc.FailDuration), MaxFails: hc.MaxFails,
			UnhealthyLatency: time.Duration(hc.UnhealthyLatency),
		}
	}
	if c.FailDuration == 0 && n > 1 {
		c.FailDuration = DefaultFailDuration
	}
	return c
}

// selectionPolicy loads the lb_policy module (default round_robin with
// several upstreams) and binds it to the members.
func (h *Handler) selectionPolicy(members []*balance.Member) (balance.Policy, error) {
	names := make([]string, len(members))
	for i, m := range members {
		names[i] = m.Name()
	}
	if h.policy == nil {
		return (&RoundRobinSelection{}).bind(names)
	}
	return h.policy.bind(names)
}

// loadPolicy loads the configured lb_policy guest module, if any.
func (h *Handler) loadPolicy(ctx caddy.Context) error {
	if h.LBPolicyRaw == nil {
		return nil
	}
	mod, err := ctx.LoadModule(h, "LBPolicyRaw")
	if err != nil {
		return fmt.Errorf("mcp_proxy: loading lb_policy: %v", err)
	}
	p, ok := mod.(selectionPolicy)
	if !ok {
		return fmt.Errorf("mcp_proxy: lb_policy: module %T is not a selection policy", mod)
	}
	h.policy = p
	return nil
}

// uriCheck is the health_uri check of an HTTP upstream: a GET of uri on
// the upstream's scheme, host and port through its transport; 2xx passes.
func uriCheck(u *HTTPUpstream, uri string) balance.Checker {
	base, _ := url.Parse(u.URL)
	ref, _ := url.Parse(uri)
	target := base.ResolveReference(ref)
	target.User = nil
	var rt http.RoundTripper = http.DefaultTransport
	if u.Transport != nil && u.Transport.Transport != nil {
		rt = u.Transport.Transport
	}
	client := &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return func(ctx context.Context, _ upstream.Upstream) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("health_uri: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("health_uri answered %d", resp.StatusCode)
		}
		return nil
	}
}

// zapUpstream is the log field naming an upstream.
func zapUpstream(name string) zap.Field { return zap.String("upstream_name", name) }
