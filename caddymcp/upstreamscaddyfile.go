package caddymcp

import (
	"encoding/json"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/upstream/balance"
)

// unmarshalBalancing parses the lines of an endpoint of several upstreams:
//
//	lb_policy <name> [<args...>]
//	lb_retries <n>
//	health_interval <duration>
//	health_timeout <duration>
//	health_uri <uri>
//	fail_duration <duration>
//	max_fails <n>
//	unhealthy_latency <duration>
func (h *Handler) unmarshalBalancing(d *caddyfile.Dispenser) error {
	health := func() *HealthChecks {
		if h.HealthChecks == nil {
			h.HealthChecks = new(HealthChecks)
		}
		return h.HealthChecks
	}
	var err error
	switch d.Val() {
	case "lb_policy":
		if h.LBPolicyRaw != nil {
			return d.Err("lb_policy is set twice")
		}
		if !d.NextArg() {
			return d.Err("lb_policy needs a policy: round_robin, least_sessions, random, first, weighted_round_robin <weights...>, client_ip_hash or header <field>")
		}
		name := d.Val()
		mod, merr := caddyfile.UnmarshalModule(d, policyNamespace+"."+name)
		if merr != nil {
			if strings.Contains(merr.Error(), "unknown module") || strings.Contains(merr.Error(), "not registered") {
				return d.Errf("lb_policy: unknown policy %q (round_robin, least_sessions, random, first, weighted_round_robin, client_ip_hash, header)", name)
			}
			return merr
		}
		h.LBPolicyRaw = caddyconfig.JSONModuleObject(mod, "policy", name, nil)
	case "lb_retries":
		var n int
		n, err = mcphttp.IntArg(d)
		if err == nil && n < 0 {
			err = d.Errf("lb_retries must be zero or positive, got %d", n)
		}
		h.LBRetries = &n
	case "health_interval":
		health().Interval, err = mcphttp.DurationArg(d)
	case "health_timeout":
		health().Timeout, err = mcphttp.DurationArg(d)
	case "health_uri":
		var uri string
		uri, err = mcphttp.SingleArg(d)
		if err == nil && !strings.HasPrefix(uri, "/") {
			err = d.Errf("health_uri must be a path such as /healthz, got %q", uri)
		}
		health().URI = uri
	case "fail_duration":
		health().FailDuration, err = mcphttp.DurationArg(d)
	case "max_fails":
		health().MaxFails, err = mcphttp.PositiveIntArg(d)
	case "unhealthy_latency":
		health().UnhealthyLatency, err = mcphttp.DurationArg(d)
	}
	return err
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
