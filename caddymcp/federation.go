package caddymcp

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline/filter"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/federate"
)

// ServerConfig is one MCP server of a federated endpoint: everything an
// mcp_proxy of that server alone takes for its upstreams.
type ServerConfig struct {
	// Name is what the client reads of the server (tool and prompt name
	// prefixes, errors): 1–32 of [A-Za-z0-9-], unique, without the
	// separator.
	Name string `json:"name"`
	// Upstreams are the server's replicas, balanced as an endpoint's.
	Upstreams []*UpstreamConfig `json:"upstreams,omitempty"`
	// LBPolicyRaw selects the replica of a new session (default round_robin).
	LBPolicyRaw json.RawMessage `json:"lb_policy,omitempty" caddy:"namespace=http.handlers.mcp_proxy.selection_policies inline_key=policy"`
	// LBRetries is how many more replicas a session's failed open tries.
	LBRetries *int `json:"lb_retries,omitempty"`
	// HealthChecks judges the replicas.
	HealthChecks *HealthChecks `json:"health_checks,omitempty"`
	// Config hides some of the server's tools, prompts and resources, by
	// the server's own names, before the lists are merged.
	filter.Config

	line caddyfile.Token // where the Caddyfile names it, for errors
	err  error
}

// FederateConfig is how a federated endpoint shows its servers as one.
type FederateConfig struct {
	// Prefix is always (default), conditional or never: which tool and
	// prompt names carry their server's name.
	Prefix string `json:"prefix,omitempty"`
	// Separator goes between a server's name and a name (default "_").
	Separator string `json:"separator,omitempty"`
	// ServerName is the serverInfo.name clients see (default "caddy-mcp").
	ServerName string `json:"server_name,omitempty"`
}

// federated reports whether the endpoint federates servers: two or more
// server blocks. One server block is the endpoint's one server, served as
// top-level upstream lines are, with nothing in between.
func (h *Handler) federated() bool { return len(h.Servers) > 1 }

// separator is the configured separator or the default.
func (h *Handler) separator() string {
	if h.Federate != nil && h.Federate.Separator != "" {
		return h.Federate.Separator
	}
	return federate.DefaultSeparator
}

// validServers checks the servers' names (noting each server's error).
func (h *Handler) validServers() error {
	sep := h.separator()
	if h.Federate != nil {
		if err := federate.ValidSeparator(sep); err != nil {
			return err
		}
		if _, err := federate.ParsePrefix(h.Federate.Prefix); err != nil {
			return err
		}
	}
	seen := make(map[string]bool)
	var first error
	for _, s := range h.Servers {
		s.err = federate.ValidServerName(s.Name, sep)
		if s.err == nil && seen[s.Name] {
			s.err = fmt.Errorf("two servers are named %q", s.Name)
		}
		if s.err == nil && len(s.Upstreams) == 0 {
			s.err = fmt.Errorf("server %s has no upstream", s.Name)
		}
		seen[s.Name] = true
		if first == nil {
			first = s.err
		}
	}
	return first
}

// checkServersConfig is checkConfig's part for server blocks: with one,
// the server becomes the endpoint's upstream configuration, as if its
// lines were at the top level (its filters a filter stage first).
func (h *Handler) checkServersConfig() error {
	if len(h.Servers) == 0 {
		return nil
	}
	if len(h.Upstreams) > 0 || h.LBPolicyRaw != nil || h.LBRetries != nil || h.HealthChecks != nil {
		return errors.New("mcp_proxy: with servers, every upstream and balancing setting goes inside a server")
	}
	if err := h.validServers(); err != nil {
		return fmt.Errorf("mcp_proxy: %v", err)
	}
	for _, s := range h.Servers {
		for i, u := range s.Upstreams {
			if err := u.check(); err != nil {
				return fmt.Errorf("mcp_proxy: server %s: upstream %d: %v", s.Name, i+1, err)
			}
		}
	}
	if h.federated() {
		return nil
	}
	s := h.Servers[0]
	h.Upstreams, h.LBPolicyRaw, h.LBRetries, h.HealthChecks = s.Upstreams, s.LBPolicyRaw, s.LBRetries, s.HealthChecks
	if s.Tools != nil || s.Prompts != nil || s.Resources != nil {
		stage, err := json.Marshal(struct {
			Stage string `json:"stage"`
			filter.Config
		}{"filter", s.Config})
		if err != nil {
			return err
		}
		h.Pipeline = append([]json.RawMessage{stage}, h.Pipeline...)
	}
	h.Servers = nil
	return nil
}

// endpointDefaultName is the endpoint's name when none is configured
// (endpointname.go): with several servers, their names joined.
func endpointDefaultName(h *Handler) string {
	if !h.federated() {
		return defaultEndpointName(h.Upstreams)
	}
	names := make([]string, 0, len(h.Servers))
	for _, s := range h.Servers {
		names = append(names, s.Name)
	}
	return "federation:" + strings.Join(names, ",")
}

// provisionServers builds what the front forwards to: the endpoint's
// upstream (provisionUpstreams), or with several servers a federation of
// them, each built as an endpoint of that server alone would build it.
func (h *Handler) provisionServers(ctx caddy.Context, maxMessage int) (upstream.Upstream, error) {
	if !h.federated() {
		return h.provisionUpstreams(ctx, maxMessage)
	}
	endpoint := h.metrics.endpoint
	cfg := federate.Config{Separator: h.separator(), Logger: h.logger.Named("federate"),
		Hidden: func(list string) { hiddenNames.WithLabelValues(endpoint, list).Inc() }}
	if f := h.Federate; f != nil {
		cfg.Prefix, cfg.ServerName = federate.Prefix(f.Prefix), f.ServerName
	}
	for _, s := range h.Servers {
		sub := &Handler{Upstreams: s.Upstreams, LBPolicyRaw: s.LBPolicyRaw, LBRetries: s.LBRetries, HealthChecks: s.HealthChecks,
			MaxInFlight: h.MaxInFlight, VerboseErrors: h.VerboseErrors,
			app: h.app, logger: h.logger.With(zapServer(s.Name)), metrics: h.metrics, storeKey: h.storeKey + "|server=" + s.Name,
			serverName: s.Name}
		if err := sub.loadPolicy(ctx); err != nil {
			return nil, fmt.Errorf("server %s: %v", s.Name, err)
		}
		up, err := sub.provisionUpstreams(ctx, maxMessage)
		h.poolKeys = append(h.poolKeys, sub.poolKeys...)
		h.memberKeys = append(h.memberKeys, sub.memberKeys...)
		if err != nil {
			return nil, fmt.Errorf("%v (server %s)", err, s.Name)
		}
		h.members = append(h.members, sub.members...)
		h.built = append(h.built, sub.built...)
		cfg.Servers = append(cfg.Servers, federate.Server{Name: s.Name, Upstream: up, Filter: s.Config})
	}
	fed, err := federate.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("mcp_proxy: %v", err)
	}
	h.federation = fed
	return fed, nil
}

// cleanupServers releases what the servers' HTTP upstreams hold.
func (h *Handler) cleanupServers() error {
	var errs []error
	for _, s := range h.Servers {
		for _, u := range s.Upstreams {
			if u.HTTP != nil {
				errs = append(errs, u.HTTP.cleanup())
			}
		}
	}
	return errors.Join(errs...)
}

// replicaNames names a federated server's replicas <server>/<replica> in
// place: two servers' replicas of one default name (two npx commands) are
// told apart in the admin API, metrics and logs. Without federation
// (server "") the names stay.
func replicaNames(server string, names []string) {
	if server == "" {
		return
	}
	for i, n := range names {
		names[i] = server + "/" + n
	}
}

// zapServer is the log field naming a federated server.
func zapServer(name string) zap.Field { return zap.String("server", name) }

// PlaceholderServer is the federated server a request goes to, where the
// name it calls tells ("" without server blocks).
const PlaceholderServer = "http.mcp.server"

// serverOf is what tells a federated endpoint's server of a request; nil
// without federation.
func (h *Handler) serverOf() func(method, target string) string {
	if h.federation == nil {
		return nil
	}
	return h.federation.ServerOf
}

// resolveServer is what tells a federated endpoint's server of a request
// and that server's own name for what it names (rules and tapes read it);
// nil without federation.
func (h *Handler) resolveServer() func(method, target string) (server, own string) {
	if h.federation == nil {
		return nil
	}
	return h.federation.Resolve
}

// publishServer sets {http.mcp.server} on r.
func publishServer(r *http.Request, server string) {
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set(PlaceholderServer, server)
	}
}

// hiddenNames counts the names a federated endpoint hides because an
// earlier server lists the same one (prefix never, or a collision no
// prefix resolves), once per name, list and configuration load. It is one
// of the module's collectors (metrics.go).
var hiddenNames = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "caddy_mcp", Name: "federation_hidden_names_total",
	Help: "Names a federated endpoint's server lists that clients do not see because an earlier server in configuration order lists the same one (logged once per name), counted once per name and configuration load, by endpoint and list (tools, prompts, resources, resourceTemplates).",
}, []string{"endpoint", "list"})
