package caddymcp

import (
	"cmp"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/dustin/go-humanize"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/pool"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("mcp_proxy", parseCaddyfile)
	// Right after metrics, which is right before reverse_proxy: so that
	// mcp_proxy comes before mcp_console (ordered before reverse_proxy) in
	// whatever order Go initializes the two packages.
	httpcaddyfile.RegisterDirectiveOrder("mcp_proxy", httpcaddyfile.After, "metrics")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	mcp_proxy [<matcher>] {
//	    name <name>
//	    stdio <command> [<args...>] {
//	        name <upstream-name>
//	        env <name> <value>
//	        dir <path>
//	        max_processes <n>
//	        warm <n>
//	        idle_timeout <duration>
//	        stop_timeout <duration>
//	        acquire_timeout <duration>
//	        protocol legacy|modern|auto
//	        probe_timeout <duration>
//	        shared <n>
//	        spare_check ping|off
//	        spare_check_timeout <duration>
//	    }
//	    http <url> {
//	        name <upstream-name>
//	        transport streamable|sse|auto
//	        header_up <field> <value>
//	        pass_authorization
//	        response_header_timeout <duration>
//	        idle_timeout <duration>
//	        dial_timeout <duration>
//	        tls_trusted_ca_certs <pem_files...>
//	        tls_client_auth <cert_file> <key_file>
//	        tls_server_name <name>
//	        tls_insecure_skip_verify
//	        auth client_credentials { ... }
//	    }
//	    replay <tape|dir> {
//	        name <upstream-name>
//	        match params|sequence|strict
//	    }
//	    lb_policy <policy> [<args...>]
//	    lb_retries <n>
//	    health_interval <duration>
//	    health_timeout <duration>
//	    health_uri <path>
//	    fail_duration <duration>
//	    max_fails <n>
//	    unhealthy_latency <duration>
//	    tools|prompts|resources { allow <glob...>; deny <glob...> }
//	    intercept [<name>] { ... }
//	    max_held <n>
//	    max_decode <size>
//	    record <dir> {
//	        redact <json-pointer...>
//	        max_size <size>
//	        sample <fraction>
//	    }
//	    session_idle_timeout <duration>
//	    max_sessions <n>
//	    max_sessions_per_client <n>
//	    request_timeout <duration>
//	    max_message_size <size>
//	    allowed_origins <origin...>
//	    allowed_hosts <host...>
//	    keepalive <duration>
//	    replay_buffer <events> <size>
//	    replay_budget <size>
//	    max_in_flight <n>
//	    held_progress <duration>
//	}
//
// name keeps the endpoint's sessions across reloads that change its
// upstream (by default the name derives from the upstream). Each stdio,
// http or replay line is one upstream (upstreams.go; the lb_* and health
// lines are upstreamscaddyfile.go's, tools/prompts/resources/intercept
// stages/caddyfile.go's, auth the http upstream's upstream_httpauth.go). stdio runs the
// MCP server as subprocesses, one per session: env adds a variable to the
// child's minimal environment (repeatable), dir sets its working directory,
// max_processes bounds live processes (spares included, default 16), warm
// is the number of spares started ahead (default 1), idle_timeout stops
// surplus spares (default 1m), stop_timeout is each wait of the shutdown
// sequence close-stdin → SIGTERM → SIGKILL (default 5s), acquire_timeout is
// how long a new session waits for a free process before a 503 (default 5s);
// protocol is the server's era — legacy (2025 revisions only), modern (also
// stateless 2026-07-28) or auto (default: probe once with server/discover);
// probe_timeout bounds that probe (default 10s); shared is the most processes
// that serve 2026-07-28 clients together through a JSON-RPC mux, per user
// (default 2; 0: off, 2026 clients fall back to sessions);
// spare_check ping (default) hands a new spare to a session only once it
// answered an MCP ping, off as soon as it started; spare_check_timeout bounds
// that ping (default 30s: a server that does not answer is used unchecked).
// http forwards to a remote MCP server:
// transport is the MCP transport it speaks — streamable (Streamable HTTP),
// sse (the HTTP+SSE transport of 2024-11-05; the URL is its SSE endpoint)
// or auto (default: Streamable HTTP unless the first initialize is refused
// with 400, 404 or 405, then HTTP+SSE, remembered); header_up sets a request
// header sent upstream (placeholders are evaluated when the client's
// initialize creates the upstream session);
// pass_authorization forwards the client's Authorization header, which the
// MCP specification forbids, for upstreams that validate the same token;
// response_header_timeout (default 30s), idle_timeout (silent SSE streams)
// and dial_timeout (default 3s) bound the waits; the tls_* lines configure
// upstream TLS as in reverse_proxy's http transport.
// replay answers from recorded tapes instead of a server (a tape file, or a
// directory whose tapes are tried in name order); match is params (default:
// method and params without _meta), sequence (recorded order) or strict
// (recorded order, params exactly); initialize matches on its method alone.
// record writes one tape per session (2026-07-28 requests: one per client
// and day) into dir: redact removes JSON pointers from every message
// (Authorization and cookies are never stored), max_size rotates a tape
// into numbered files, sample records that share of sessions.
// session_idle_timeout ends sessions without traffic (default 30m);
// max_sessions bounds live sessions (default 10000) and
// max_sessions_per_client those of one client, its authenticated user else
// its address (default 64): at either bound the least recently used idle
// session in the way ends to make room; request_timeout bounds
// the wait for a response (default 10m); max_message_size bounds a message
// (default 4MiB); allowed_origins and allowed_hosts extend the DNS-rebinding
// defence, which by default accepts loopback names and the request's own
// host; keepalive is the interval of comments on idle SSE streams (default
// 15s); replay_buffer bounds each stream's buffer for resumption (default
// 512 events, 1MiB) and replay_budget all of an endpoint's buffers together
// (default 64MiB: above it the oldest events of streams nobody listens to go
// first); max_in_flight bounds requests in flight per session (default 64);
// held_progress is how often the client of a request a pause or delay holds
// hears the gateway's progress, if it gave a progressToken (default 10s).
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.Errf("mcp_proxy takes no argument besides a matcher (/path, * or @name), got %q", d.Val())
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "name":
			h.Name, err = mcphttp.SingleArg(d)
		case "stdio":
			u := new(UpstreamConfig)
			u.Stdio, err = parseStdio(d, &u.Name)
			h.Upstreams = append(h.Upstreams, u)
		case "http":
			u := new(UpstreamConfig)
			u.HTTP, err = parseHTTP(d, &u.Name)
			h.Upstreams = append(h.Upstreams, u)
		case "lb_policy", "lb_retries", "health_interval", "health_timeout", "health_uri",
			"fail_duration", "max_fails", "unhealthy_latency":
			err = h.unmarshalBalancing(d)
		case "replay":
			u := new(UpstreamConfig)
			u.Replay, err = parseReplay(d, &u.Name)
			h.Upstreams = append(h.Upstreams, u)
		case "cache":
			err = h.parseCache(d) // cache.go
		case "record":
			if h.Record != nil {
				return d.Err("record is set twice")
			}
			h.Record, err = parseRecord(d)
		case "session_idle_timeout":
			h.SessionIdleTimeout, err = mcphttp.DurationArg(d)
		case "max_sessions":
			h.MaxSessions, err = mcphttp.PositiveIntArg(d)
		case "max_sessions_per_client":
			h.MaxSessionsPerClient, err = mcphttp.PositiveIntArg(d)
		case "request_timeout":
			h.RequestTimeout, err = mcphttp.DurationArg(d)
		case "max_message_size":
			h.MaxMessageSize, err = mcphttp.SizeArg(d)
		case "allowed_origins":
			h.AllowedOrigins, err = mcphttp.AppendArgs(d, h.AllowedOrigins)
		case "allowed_hosts":
			h.AllowedHosts, err = mcphttp.AppendArgs(d, h.AllowedHosts)
		case "verbose_errors":
			if d.NextArg() {
				err = d.ArgErr()
			}
			h.VerboseErrors = true
		case "keepalive":
			h.KeepAlive, err = mcphttp.DurationArg(d)
		case "replay_buffer":
			err = h.parseReplayBuffer(d)
		case "replay_budget":
			h.ReplayBudget, err = mcphttp.SizeArg(d)
		case "max_in_flight":
			h.MaxInFlight, err = mcphttp.PositiveIntArg(d)
		case "held_progress":
			h.HeldProgressInterval, err = mcphttp.DurationArg(d)
		case "intercept", "max_held", "max_decode":
			err = h.addStage("intercept", d) // stages/caddyfile.go
		case "tools", "prompts", "resources":
			err = h.addStage("filter", d)
		default:
			return d.Errf("unrecognized mcp_proxy subdirective %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	if len(h.Upstreams) == 0 {
		return d.Err("mcp_proxy needs an upstream: add a stdio <command>, an http <url> or a replay <tape|dir> line")
	}
	return h.checkBalancing(d)
}

// parseReplayBuffer parses `replay_buffer <events> <size>`.
func (h *Handler) parseReplayBuffer(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return d.Err("replay_buffer takes two arguments: replay_buffer <events> <size>, e.g. 512 1MiB")
	}
	var err error
	if h.ReplayEvents, err = strconv.Atoi(args[0]); err != nil || h.ReplayEvents <= 0 {
		return d.Errf("replay_buffer: events must be a positive integer, got %q", args[0])
	}
	size, err := humanize.ParseBytes(args[1])
	if err != nil || size == 0 || size > math.MaxInt {
		return d.Errf("replay_buffer: invalid size %q", args[1])
	}
	h.ReplayBytes = int(size)
	return nil
}

// parseStdio parses `stdio <command> [<args...>] { ... }`; a name line
// sets *name.
func parseStdio(d *caddyfile.Dispenser, name *string) (*StdioUpstream, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.Err("stdio needs a command, e.g. stdio npx -y @modelcontextprotocol/server-everything")
	}
	u := &StdioUpstream{Command: args[0], Args: args[1:]}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "name":
			*name, err = upstreamNameArg(d)
		case "env":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return nil, d.Err("env takes a name and a value: env <name> <value>")
			}
			if args[0] == "" || strings.ContainsAny(args[0], "=\x00") {
				return nil, d.Errf("env: invalid variable name %q", args[0])
			}
			if _, dup := u.Env[args[0]]; dup {
				return nil, d.Errf("env: %s is set twice", args[0])
			}
			if u.Env == nil {
				u.Env = make(map[string]string)
			}
			u.Env[args[0]] = args[1]
		case "dir":
			u.Dir, err = mcphttp.SingleArg(d)
		case "max_processes":
			u.MaxProcesses, err = mcphttp.PositiveIntArg(d)
		case "warm":
			var n int
			n, err = mcphttp.IntArg(d)
			if err == nil && n < 0 {
				err = d.Errf("warm must be zero or positive, got %d", n)
			}
			u.Warm = &n
		case "idle_timeout":
			u.IdleTimeout, err = mcphttp.DurationArg(d)
		case "stop_timeout":
			u.StopTimeout, err = mcphttp.DurationArg(d)
		case "acquire_timeout":
			u.AcquireTimeout, err = mcphttp.DurationArg(d)
		case "protocol":
			u.Protocol, err = mcphttp.SingleArg(d)
			if err == nil && u.Protocol != "legacy" && u.Protocol != "modern" && u.Protocol != "auto" {
				err = d.Errf("protocol must be legacy, modern or auto, got %q", u.Protocol)
			}
		case "probe_timeout":
			u.ProbeTimeout, err = mcphttp.DurationArg(d)
		case "shared":
			var n int
			n, err = mcphttp.IntArg(d)
			if err == nil && n < 0 {
				err = d.Errf("shared must be zero (off) or positive, got %d", n)
			}
			u.Shared = &n
		case "spare_check":
			u.SpareCheck, err = mcphttp.SingleArg(d)
			if err == nil {
				if cerr := u.checkSpareCheck(); cerr != nil {
					err = d.Err(cerr.Error())
				}
			}
		case "spare_check_timeout":
			u.SpareCheckTimeout, err = mcphttp.DurationArg(d)
		default:
			return nil, d.Errf("unrecognized stdio subdirective %q", d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	limit := cmp.Or(u.MaxProcesses, pool.DefaultMaxProcesses)
	if u.Warm != nil && *u.Warm > limit {
		return nil, d.Errf("warm (%d) must not exceed max_processes (%d): spares count toward the limit", *u.Warm, limit)
	}
	return u, nil
}

// parseHTTP parses `http <url> { ... }`; a name line sets *name.
func parseHTTP(d *caddyfile.Dispenser, name *string) (*HTTPUpstream, error) {
	raw, err := mcphttp.SingleArgKeepBlock(d)
	if err != nil {
		return nil, err
	}
	if u, perr := url.Parse(raw); perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, d.Errf("http: %q is not an absolute http:// or https:// URL", raw)
	}
	u := &HTTPUpstream{URL: raw}
	var caFiles []string
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "name":
			*name, err = upstreamNameArg(d)
		case "transport":
			u.MCPTransport, err = mcphttp.SingleArg(d)
			if err == nil && (u.MCPTransport == "" || !validMCPTransport(u.MCPTransport)) {
				err = d.Errf("transport must be streamable, sse or auto, got %q", u.MCPTransport)
			}
		case "header_up":
			err = u.parseHeaderUp(d)
		case "pass_authorization":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			u.PassAuthorization = true
		case "auth":
			u.Auth, err = parseUpstreamAuth(d) // upstream_httpauth.go
		case "response_header_timeout":
			u.ResponseHeaderTimeout, err = mcphttp.DurationArg(d)
		case "idle_timeout":
			u.IdleTimeout, err = mcphttp.DurationArg(d)
		case "dial_timeout":
			u.transport().DialTimeout, err = mcphttp.DurationArg(d)
		case "tls_trusted_ca_certs":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.ArgErr()
			}
			caFiles = append(caFiles, args...)
		case "tls_client_auth":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return nil, d.Err("tls_client_auth takes a certificate file and a key file")
			}
			t := u.tlsConfig()
			t.ClientCertificateFile, t.ClientCertificateKeyFile = args[0], args[1]
		case "tls_server_name":
			var name string
			name, err = mcphttp.SingleArg(d)
			u.tlsConfig().ServerName = name
		case "tls_insecure_skip_verify":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			u.tlsConfig().InsecureSkipVerify = true
		default:
			return nil, d.Errf("unrecognized http subdirective %q", d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	if len(caFiles) > 0 {
		// The trust pool, as reverse_proxy's tls_trust_pool file does.
		u.tlsConfig().CARaw = caddyconfig.JSONModuleObject(caddytls.FileCAPool{TrustedCACertPEMFiles: caFiles}, "provider", "file", nil)
	}
	if u.Transport != nil && u.Transport.TLS != nil && !strings.HasPrefix(raw, "https://") {
		return nil, d.Err("http: tls_* settings need an https:// URL")
	}
	return u, nil
}

// parseHeaderUp parses `header_up <field> <value>`.
func (u *HTTPUpstream) parseHeaderUp(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return d.Err("header_up takes a field and a value: header_up <field> <value>")
	}
	if u.HeaderUp == nil {
		u.HeaderUp = make(http.Header)
	}
	u.HeaderUp.Add(args[0], args[1])
	return nil
}

// Interface guard.
var _ caddyfile.Unmarshaler = (*Handler)(nil)

// addStage parses the subdirective at d into the handler's stage named
// stage (adding it if there is none yet): the stage module, decoded from
// its JSON so far, parses the subdirective itself (caddyfile.Unmarshaler,
// caddymcp/stages), so mcp_proxy needs not import it. The filter stage is
// kept first, before the intercept stage.
func (h *Handler) addStage(stage string, d *caddyfile.Dispenser) error {
	idx := -1
	var current json.RawMessage
	for i, raw := range h.Pipeline {
		var head struct {
			Stage string `json:"stage"`
		}
		if json.Unmarshal(raw, &head) == nil && head.Stage == stage {
			idx, current = i, raw
			break
		}
	}
	mod, err := caddy.GetModule(StagesNamespace + "." + stage)
	if err != nil {
		return d.Errf("%s: %v", d.Val(), err)
	}
	v := mod.New()
	if current != nil {
		if err := json.Unmarshal(current, v); err != nil {
			return err
		}
	}
	u, ok := v.(caddyfile.Unmarshaler)
	if !ok {
		return d.Errf("%s: stage module %s cannot be set up from the Caddyfile", d.Val(), mod.ID)
	}
	if err := u.UnmarshalCaddyfile(d); err != nil {
		return err
	}
	raw := caddyconfig.JSONModuleObject(v, "stage", stage, nil)
	switch {
	case idx >= 0:
		h.Pipeline[idx] = raw
	case stage == "filter":
		h.Pipeline = append([]json.RawMessage{raw}, h.Pipeline...)
	default:
		h.Pipeline = append(h.Pipeline, raw)
	}
	return nil
}
