package caddymcp

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/upstream/federate"
)

// serverKeywords are a server block's lines: its replicas, their balancing
// and health, and its filters, each parsed as in an mcp_proxy of that one
// server.
var serverKeywords = mcphttp.Keywords[*Handler]{}

func init() {
	maps.Copy(serverKeywords, balancingKeywords)
	for _, k := range []string{"stdio", "http", "replay", "tools", "prompts", "resources"} {
		serverKeywords[k] = proxyKeywords[k]
	}
}

// federateKeywords are the federate block's lines.
var federateKeywords = mcphttp.Keywords[*FederateConfig]{
	"prefix": func(f *FederateConfig, d dispenser) error {
		if err := read(d, &f.Prefix, singleArg); err != nil {
			return err
		}
		if _, err := federate.ParsePrefix(f.Prefix); err != nil {
			return d.Err(err.Error())
		}
		return nil
	},
	"separator": func(f *FederateConfig, d dispenser) error {
		if err := read(d, &f.Separator, singleArg); err != nil {
			return err
		}
		if err := federate.ValidSeparator(f.Separator); err != nil {
			return d.Err(err.Error())
		}
		return nil
	},
	"server_name": func(f *FederateConfig, d dispenser) error { return read(d, &f.ServerName, singleArg) },
}

// unmarshalServer parses one server of a federation:
//
//	server <name> {
//	    stdio|http|replay ...          # its replicas, as at the top level
//	    lb_policy, lb_retries, health_*, fail_duration, max_fails, unhealthy_latency
//	    tools|prompts|resources { allow <glob...>; deny <glob...> }
//	}
//
// The lines mean what they mean in an mcp_proxy of that one server; the
// filters apply to the server's own names, before the lists are merged.
func (h *Handler) unmarshalServer(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.Err("server needs a name: server <name> { ... }")
	}
	s := &ServerConfig{Name: d.Val(), line: d.Token()}
	if d.NextArg() {
		return d.Errf("server takes one name, got %q too", d.Val())
	}
	sub := new(Handler) // parses the lines as a one-server mcp_proxy would
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := serverKeywords.Parse("server", sub, d); err != nil {
			return err
		}
	}
	if len(sub.Upstreams) == 0 {
		return d.Errf("server %s needs an upstream: a stdio <command>, an http <url> or a replay <tape|dir> line", s.Name)
	}
	if err := sub.checkBalancing(d); err != nil {
		return err
	}
	s.Upstreams, s.LBPolicyRaw, s.LBRetries, s.HealthChecks = sub.Upstreams, sub.LBPolicyRaw, sub.LBRetries, sub.HealthChecks
	if len(sub.Pipeline) > 0 {
		if err := json.Unmarshal(sub.Pipeline[0], &s.Config); err != nil {
			return err
		}
	}
	h.Servers = append(h.Servers, s)
	return nil
}

// unmarshalFederate parses
//
//	federate {
//	    prefix always|conditional|never
//	    separator <sep>
//	    server_name <name>
//	}
func (h *Handler) unmarshalFederate(d *caddyfile.Dispenser) error {
	if h.Federate != nil {
		return d.Err("federate is set twice")
	}
	if d.NextArg() {
		return d.Errf("federate takes a block, not %q", d.Val())
	}
	h.Federate = new(FederateConfig)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := federateKeywords.Parse("federate", h.Federate, d); err != nil {
			return err
		}
	}
	return nil
}

// checkServers rejects, once the whole mcp_proxy block is read, servers
// that cannot be told apart and a mix of server blocks with upstream lines
// at the top level; errors name the server block's file and line.
func (h *Handler) checkServers(d *caddyfile.Dispenser) error {
	if len(h.Servers) == 0 {
		if h.Federate != nil {
			return d.Err("federate needs server blocks: server <name> { ... }")
		}
		return nil
	}
	if len(h.Upstreams) > 0 || h.LBPolicyRaw != nil || h.LBRetries != nil || h.HealthChecks != nil {
		return d.Err("with server blocks, every stdio, http, replay, lb_* and health line goes inside a server block")
	}
	if err := h.validServers(); err != nil {
		for _, s := range h.Servers {
			if s.err != nil {
				return fmt.Errorf("%v, at %s:%d", s.err, s.line.File, s.line.Line)
			}
		}
		return d.Err(err.Error())
	}
	return nil
}
