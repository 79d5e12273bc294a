package caddymcp

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/balance"
	"github.com/caddy-mcp/caddy-mcp/upstream/stdio"
)

// UpstreamConfig is one upstream of an endpoint: exactly one of its kinds.
type UpstreamConfig struct {
	// Name identifies the upstream in the admin API, metrics labels, logs
	// and the tags of cursors; letters, digits, '_', '.', '-'. Default:
	// derived from what it is, without secrets — an HTTP upstream's host
	// (and port when the URL names one), a stdio command's executable
	// name — with "-2", "-3", … when two would be alike.
	Name string `json:"name,omitempty"`
	// Stdio runs the MCP server as local subprocesses.
	Stdio *StdioUpstream `json:"stdio,omitempty"`
	// HTTP forwards to a remote MCP server.
	HTTP *HTTPUpstream `json:"http,omitempty"`
	// Replay answers from recorded tapes, with no server.
	Replay *ReplayUpstream `json:"replay,omitempty"`
}

// check says what is wrong with the entry, if anything.
func (u *UpstreamConfig) check() error {
	n := 0
	for _, set := range []bool{u.Stdio != nil, u.HTTP != nil, u.Replay != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return errors.New("each upstream is exactly one of stdio, http or replay")
	}
	if u.HTTP != nil && u.HTTP.URL == "" {
		return errors.New("http: the upstream URL is empty")
	}
	if u.Name != "" {
		return balance.ValidName(u.Name)
	}
	return nil
}

// derivedName is the default name of the entry.
func (u *UpstreamConfig) derivedName() string {
	switch {
	case u.Stdio != nil:
		return sanitizeName(commandName(u.Stdio.Command))
	case u.Replay != nil:
		return "replay"
	}
	pu, err := url.Parse(u.HTTP.URL)
	if err != nil || pu.Hostname() == "" {
		return "http"
	}
	name := pu.Hostname()
	if p := pu.Port(); p != "" {
		name += "-" + p
	}
	return sanitizeName(name)
}

var nameUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// sanitizeName makes s a valid upstream name.
func sanitizeName(s string) string {
	s = strings.Trim(nameUnsafe.ReplaceAllString(s, "_"), "_.-")
	if len(s) > 48 {
		s = s[:48]
	}
	if s == "" {
		return "upstream"
	}
	return s
}

// upstreamNames are the entries' names: the configured ones, and derived
// ones made unique.
func upstreamNames(ups []*UpstreamConfig) ([]string, error) {
	names := make([]string, len(ups))
	taken := make(map[string]bool)
	for i, u := range ups {
		if u.Name == "" {
			continue
		}
		if taken[u.Name] {
			return nil, fmt.Errorf("two upstreams are named %q", u.Name)
		}
		taken[u.Name] = true
		names[i] = u.Name
	}
	for i, u := range ups {
		if names[i] != "" {
			continue
		}
		base := u.derivedName()
		name := base
		for n := 2; taken[name]; n++ {
			name = base + "-" + strconv.Itoa(n)
		}
		taken[name] = true
		names[i] = name
	}
	return names, nil
}

// provisionedUpstream is one built upstream of the endpoint.
type provisionedUpstream struct {
	name    string
	server  string // the federated server it is a replica of ("" without federation)
	kind    string
	address string // scheme://host:port, or the executable's name
	up      upstream.Upstream
	pool    *mcpstate.StdioEntry // for stdio
	check   balance.Checker
}

// buildStdio builds a stdio upstream from the endpoint's pool of it,
// kept across reloads in mcpstate.StdioPools. storeKey and name make the pool the
// endpoint's own; it starts with the configuration (the mcp app).
func (h *Handler) buildStdio(ctx caddy.Context, app *App, u *StdioUpstream, storeKey, name string, maxMessage int) (*provisionedUpstream, error) {
	if err := u.checkSpareCheck(); err != nil {
		return nil, err
	}
	poolCfg := u.poolConfig(h.logger.Named("stdio"), maxMessage)
	if err := poolCfg.Validate(); err != nil {
		return nil, err
	}
	opts := u.options()
	opts.Name = name
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := h.checkCommand(u, poolCfg, name); err != nil {
		return nil, err
	}
	key := poolKey(storeKey+"|"+name, processKey(poolCfg), u.Protocol)
	val, loaded, err := mcpstate.StdioPools.LoadOrNew(key, func() (caddy.Destructor, error) {
		p, err := pool.New(poolCfg)
		if err != nil {
			return nil, err
		}
		up, err := stdio.NewWithOptions(p, maxMessage, h.logger.Named("stdio").With(zapUpstream(name)), opts)
		if err != nil {
			p.Close()
			return nil, err
		}
		return &mcpstate.StdioEntry{Pool: p, Upstream: up, Endpoint: storeKey, Name: name, Command: commandName(poolCfg.Command)}, nil
	})
	if err != nil {
		return nil, err
	}
	h.poolKeys = append(h.poolKeys, key)
	entry := val.(*mcpstate.StdioEntry)
	var apply func() error
	if loaded {
		// A pool kept from the running configuration: this configuration's
		// sizes and timeouts apply once it starts, not while it is only
		// provisioned (caddy validate, or a reload that fails later).
		apply = func() error {
			if err := entry.Pool.SetLimits(poolCfg); err != nil {
				return fmt.Errorf("mcp_proxy: stdio: %v", err)
			}
			if err := entry.Upstream.SetLive(opts, maxMessage); err != nil {
				return fmt.Errorf("mcp_proxy: stdio: %v", err)
			}
			return nil
		}
	}
	app.register(entry.Pool, apply)
	return &provisionedUpstream{name: name, kind: mcpstate.KindStdio, address: entry.Command, up: entry.Upstream, pool: entry,
		check: stdio.CrashLoopCheck()}, nil
}

// memberKey is what defines an upstream entry for its stored health:
// the stdio process definition, or the HTTP configuration.
func memberKey(u *UpstreamConfig, h *Handler) string {
	switch {
	case u.HTTP != nil:
		return u.HTTP.key()
	case u.Replay != nil:
		return u.Replay.key()
	}
	return processKey(u.Stdio.poolConfig(h.logger, 0)) + "|protocol=" + u.Stdio.Protocol
}

// provisionUpstreams builds every upstream of the endpoint and what the
// front forwards to: the one upstream, or a group of them.
func (h *Handler) provisionUpstreams(ctx caddy.Context, maxMessage int) (upstream.Upstream, error) {
	names, err := upstreamNames(h.Upstreams)
	if err != nil {
		return nil, fmt.Errorf("mcp_proxy: %v", err)
	}
	replicaNames(h.serverName, names)
	app := h.app
	built := make([]*provisionedUpstream, len(h.Upstreams))
	for i, u := range h.Upstreams {
		name := names[i]
		if u.Stdio != nil {
			b, err := h.buildStdio(ctx, app, u.Stdio, h.storeKey, name, maxMessage)
			if err != nil {
				return nil, fmt.Errorf("mcp_proxy: upstream %s: stdio: %v", name, err)
			}
			built[i] = b
			continue
		}
		if u.Replay != nil {
			up, err := u.Replay.build(ctx)
			if err != nil {
				return nil, fmt.Errorf("mcp_proxy: upstream %s: replay: %v", name, err)
			}
			built[i] = &provisionedUpstream{name: name, kind: mcpstate.KindReplay, address: "replay", up: up}
			continue
		}
		if observeRequests {
			u.HTTP.onReconnect = h.metrics.onReconnect
		}
		up, err := u.HTTP.build(ctx, name, maxMessage, h.MaxInFlight, h.VerboseErrors)
		if err != nil {
			return nil, fmt.Errorf("mcp_proxy: upstream %s: http: %v", name, err)
		}
		built[i] = &provisionedUpstream{name: name, kind: mcpstate.KindHTTP, address: httpAddress(u.HTTP.URL), up: up}
	}
	up, err := h.group(ctx, app, h.storeKey, built)
	if err != nil {
		return nil, fmt.Errorf("mcp_proxy: %v", err)
	}
	for _, b := range built {
		b.server = h.serverName
	}
	h.built = built
	return up, nil
}
