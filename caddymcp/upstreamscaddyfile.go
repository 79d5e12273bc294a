package caddymcp

import (
	"encoding/json"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/upstream/balance"
)

// balancingKeywords are the lines of an endpoint of several upstreams,
// which join mcp_proxy's subdirectives (caddyfilekeywords.go):
//
//	lb_policy <name> [<args...>]
//	lb_retries <n>
//	health_interval <duration>
//	health_timeout <duration>
//	health_uri <uri>
//	fail_duration <duration>
//	max_fails <n>
//	unhealthy_latency <duration>
var balancingKeywords = mcphttp.Keywords[*Handler]{
	"lb_policy":         (*Handler).parseLBPolicy,
	"lb_retries":        func(h *Handler, d dispenser) error { return read(d, &h.LBRetries, count("zero or positive")) },
	"health_interval":   func(h *Handler, d dispenser) error { return read(d, &h.health().Interval, durationArg) },
	"health_timeout":    func(h *Handler, d dispenser) error { return read(d, &h.health().Timeout, durationArg) },
	"health_uri":        func(h *Handler, d dispenser) error { return read(d, &h.health().URI, healthURIArg) },
	"fail_duration":     func(h *Handler, d dispenser) error { return read(d, &h.health().FailDuration, durationArg) },
	"max_fails":         func(h *Handler, d dispenser) error { return read(d, &h.health().MaxFails, positiveArg) },
	"unhealthy_latency": func(h *Handler, d dispenser) error { return read(d, &h.health().UnhealthyLatency, durationArg) },
}

// health is the handler's health checks, set up on first use.
func (h *Handler) health() *HealthChecks {
	if h.HealthChecks == nil {
		h.HealthChecks = new(HealthChecks)
	}
	return h.HealthChecks
}

// lbPolicies are the names of the lb_policy modules, for errors.
var lbPolicies = []string{"round_robin", "least_sessions", "random", "first", "weighted_round_robin", "client_ip_hash", "header"}

func (h *Handler) parseLBPolicy(d dispenser) error {
	if h.LBPolicyRaw != nil {
		return d.Err("lb_policy is set twice")
	}
	if !d.NextArg() {
		return d.Err("lb_policy needs a policy: round_robin, least_sessions, random, first, weighted_round_robin <weights...>, client_ip_hash or header <field>")
	}
	name := d.Val()
	mod, err := caddyfile.UnmarshalModule(d, policyNamespace+"."+name)
	if err != nil {
		if strings.Contains(err.Error(), "unknown module") || strings.Contains(err.Error(), "not registered") {
			return d.Errf("lb_policy: unknown policy %q%s (%s)", name, mcphttp.DidYouMean(name, lbPolicies), strings.Join(lbPolicies, ", "))
		}
		return err
	}
	h.LBPolicyRaw = caddyconfig.JSONModuleObject(mod, "policy", name, nil)
	return nil
}

// healthURIArg reads health_uri's path.
func healthURIArg(d dispenser) (string, error) {
	uri, err := mcphttp.SingleArg(d)
	if err == nil && !strings.HasPrefix(uri, "/") {
		err = d.Errf("health_uri must be a path such as /healthz, got %q", uri)
	}
	return uri, err
}

// checkBalancing rejects settings that cannot apply to the upstreams
// configured, once the whole block is read.
func (h *Handler) checkBalancing(d *caddyfile.Dispenser) error {
	if h.LBPolicyRaw != nil {
		var p struct {
			Policy  string `json:"policy"`
			Weights []int  `json:"weights"`
		}
		_ = json.Unmarshal(h.LBPolicyRaw, &p)
		if len(p.Weights) > len(h.Upstreams) {
			return d.Errf("lb_policy weighted_round_robin: %d weights for %d upstreams", len(p.Weights), len(h.Upstreams))
		}
	}
	return nil
}

// upstreamNameArg reads an upstream's name line.
func upstreamNameArg(d *caddyfile.Dispenser) (string, error) {
	name, err := mcphttp.SingleArg(d)
	if err != nil {
		return "", err
	}
	if err := balance.ValidName(name); err != nil {
		return "", d.Err(err.Error())
	}
	return name, nil
}
