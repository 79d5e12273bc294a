package caddymcp

import (
	"context"
	"fmt"
	"net/textproto"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-mcp/caddy-mcp/upstream/balance"
)

// The selection policies of an endpoint of several upstreams are guest
// modules of this namespace, as reverse_proxy's lb_policy modules are:
// JSON {"policy": "<name>", …}, Caddyfile `lb_policy <name> [<args…>]`.
const policyNamespace = "http.handlers.mcp_proxy.selection_policies"

func init() {
	for _, m := range []caddy.Module{
		FirstSelection{}, RoundRobinSelection{}, LeastSessionsSelection{}, RandomSelection{},
		WeightedRoundRobinSelection{}, ClientIPHashSelection{}, HeaderHashSelection{},
	} {
		caddy.RegisterModule(m)
	}
}

// selectionPolicy is a policy module: it makes the plain-Go policy for an
// endpoint whose upstreams have these names, in configuration order.
type selectionPolicy interface {
	bind(names []string) (balance.Policy, error)
}

// FirstSelection sends every new session and request to the first
// available upstream in configuration order; the others are fallbacks.
type FirstSelection struct{}

// CaddyModule returns the Caddy module information.
func (FirstSelection) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: policyNamespace + ".first", New: func() caddy.Module { return new(FirstSelection) }}
}

func (FirstSelection) bind([]string) (balance.Policy, error) { return balance.First{}, nil }

// UnmarshalCaddyfile takes no arguments.
func (*FirstSelection) UnmarshalCaddyfile(d *caddyfile.Dispenser) error { return noPolicyArgs(d) }

// RoundRobinSelection takes the available upstreams in turn (the default).
type RoundRobinSelection struct{}

// CaddyModule returns the Caddy module information.
func (RoundRobinSelection) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: policyNamespace + ".round_robin", New: func() caddy.Module { return new(RoundRobinSelection) }}
}

func (RoundRobinSelection) bind([]string) (balance.Policy, error) {
	return new(balance.RoundRobin), nil
}

// UnmarshalCaddyfile takes no arguments.
func (*RoundRobinSelection) UnmarshalCaddyfile(d *caddyfile.Dispenser) error { return noPolicyArgs(d) }

// LeastSessionsSelection sends a new session to the upstream with the
// fewest live sessions.
type LeastSessionsSelection struct{}

// CaddyModule returns the Caddy module information.
func (LeastSessionsSelection) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: policyNamespace + ".least_sessions", New: func() caddy.Module { return new(LeastSessionsSelection) }}
}

func (LeastSessionsSelection) bind([]string) (balance.Policy, error) {
	return balance.LeastSessions{}, nil
}

// UnmarshalCaddyfile takes no arguments.
func (*LeastSessionsSelection) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return noPolicyArgs(d)
}

// RandomSelection selects an available upstream at random.
type RandomSelection struct{}

// CaddyModule returns the Caddy module information.
func (RandomSelection) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: policyNamespace + ".random", New: func() caddy.Module { return new(RandomSelection) }}
}

func (RandomSelection) bind([]string) (balance.Policy, error) { return balance.Random{}, nil }

// UnmarshalCaddyfile takes no arguments.
func (*RandomSelection) UnmarshalCaddyfile(d *caddyfile.Dispenser) error { return noPolicyArgs(d) }

// WeightedRoundRobinSelection takes the upstreams in turn, each as often
// as its weight; weights are given in the order of the upstreams.
type WeightedRoundRobinSelection struct {
	// Weights are the upstreams' weights, in configuration order; an
	// upstream without one has weight 1, one of weight 0 takes no turns
	// while another is available.
	Weights []int `json:"weights,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (WeightedRoundRobinSelection) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: policyNamespace + ".weighted_round_robin", New: func() caddy.Module { return new(WeightedRoundRobinSelection) }}
}

func (p WeightedRoundRobinSelection) bind(names []string) (balance.Policy, error) {
	if len(p.Weights) > len(names) {
		return nil, fmt.Errorf("lb_policy weighted_round_robin: %d weights for %d upstreams", len(p.Weights), len(names))
	}
	weights := make(map[string]int, len(p.Weights))
	for i, w := range p.Weights {
		weights[names[i]] = w
	}
	return balance.NewWeightedRoundRobin(weights)
}

// UnmarshalCaddyfile reads `weighted_round_robin <weight...>`.
func (p *WeightedRoundRobinSelection) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the policy name
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.Err("lb_policy weighted_round_robin needs a weight per upstream, in their order, e.g. weighted_round_robin 3 1")
	}
	for _, a := range args {
		w, err := strconv.Atoi(a)
		if err != nil || w < 0 {
			return d.Errf("lb_policy weighted_round_robin: weight %q is not a whole number of 0 or more", a)
		}
		p.Weights = append(p.Weights, w)
	}
	return nil
}

// ClientIPHashSelection keeps a client (by the address Caddy determined,
// honouring trusted_proxies) on one upstream while the set of available
// upstreams stays the same.
type ClientIPHashSelection struct{}

// CaddyModule returns the Caddy module information.
func (ClientIPHashSelection) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: policyNamespace + ".client_ip_hash", New: func() caddy.Module { return new(ClientIPHashSelection) }}
}

func (ClientIPHashSelection) bind([]string) (balance.Policy, error) {
	return balance.Hash{Key: func(ctx context.Context) string {
		ip, _ := caddyhttp.GetVar(ctx, caddyhttp.ClientIPVarKey).(string)
		return ip
	}}, nil
}

// UnmarshalCaddyfile takes no arguments.
func (*ClientIPHashSelection) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return noPolicyArgs(d)
}

// HeaderHashSelection keeps the requests that carry the same value of a
// request header on one upstream; without the header, a random one.
type HeaderHashSelection struct {
	// Field is the request header whose value is hashed.
	Field string `json:"field,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (HeaderHashSelection) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: policyNamespace + ".header", New: func() caddy.Module { return new(HeaderHashSelection) }}
}

func (p HeaderHashSelection) bind([]string) (balance.Policy, error) {
	if p.Field == "" {
		return nil, fmt.Errorf("lb_policy header: the header field is missing")
	}
	placeholder := "http.request.header." + textproto.CanonicalMIMEHeaderKey(p.Field)
	return balance.Hash{Key: func(ctx context.Context) string {
		repl, ok := ctx.Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
		if !ok {
			return ""
		}
		v, _ := repl.GetString(placeholder)
		return v
	}}, nil
}

// UnmarshalCaddyfile reads `header <field>`.
func (p *HeaderHashSelection) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the policy name
	if !d.NextArg() {
		return d.Err("lb_policy header needs the request header to hash, e.g. header X-Tenant")
	}
	p.Field = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// noPolicyArgs reads a policy that takes no arguments.
func noPolicyArgs(d *caddyfile.Dispenser) error {
	d.Next() // the policy name
	name := d.Val()
	if d.NextArg() {
		return d.Errf("lb_policy %s takes no arguments, got %q", name, d.Val())
	}
	return nil
}

// Interface guards.
var (
	_ selectionPolicy       = FirstSelection{}
	_ selectionPolicy       = WeightedRoundRobinSelection{}
	_ selectionPolicy       = HeaderHashSelection{}
	_ caddyfile.Unmarshaler = (*WeightedRoundRobinSelection)(nil)
	_ caddyfile.Unmarshaler = (*HeaderHashSelection)(nil)
)
