package caddymcp

import (
	"math"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"

	"github.com/caddy-mcp/caddy-mcp/pool"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("mcp_proxy", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("mcp_proxy", httpcaddyfile.Before, "reverse_proxy")
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
//	        env <name> <value>
//	        dir <path>
//	        max_processes <n>
//	        warm <n>
//	        idle_timeout <duration>
//	        stop_timeout <duration>
//	        acquire_timeout <duration>
//	    }
//	    session_idle_timeout <duration>
//	    max_sessions <n>
//	    request_timeout <duration>
//	    max_message_size <size>
//	    allowed_origins <origin...>
//	    allowed_hosts <host...>
//	    keepalive <duration>
//	    replay_buffer <events> <size>
//	    max_in_flight <n>
//	}
//
// name keeps the endpoint's sessions across reloads that change its
// upstream (by default the name derives from the upstream). stdio runs the
// MCP server as subprocesses, one per session: env adds a variable to the
// child's minimal environment (repeatable), dir sets its working directory,
// max_processes bounds live processes (spares included, default 16), warm
// is the number of spares started ahead (default 1), idle_timeout stops
// surplus spares (default 1m), stop_timeout is each wait of the shutdown
// sequence close-stdin → SIGTERM → SIGKILL (default 5s), acquire_timeout is
// how long a new session waits for a free process before a 503 (default 5s).
// session_idle_timeout ends sessions without traffic (default 30m);
// max_sessions bounds live sessions (default 10000); request_timeout bounds
// the wait for a response (default 10m); max_message_size bounds a message
// (default 4MiB); allowed_origins and allowed_hosts extend the DNS-rebinding
// defence, which by default accepts loopback names and the request's own
// host; keepalive is the interval of comments on idle SSE streams (default
// 15s); replay_buffer bounds each stream's buffer for resumption (default
// 512 events, 1MiB); max_in_flight bounds requests in flight per session
// (default 64).
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.Errf("mcp_proxy takes no argument besides a matcher (/path, * or @name), got %q", d.Val())
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "name":
			h.Name, err = singleArg(d)
		case "stdio":
			if h.Stdio != nil {
				return d.Err("only one stdio upstream per mcp_proxy")
			}
			h.Stdio, err = parseStdio(d)
		case "session_idle_timeout":
			h.SessionIdleTimeout, err = durationArg(d)
		case "max_sessions":
			h.MaxSessions, err = positiveIntArg(d)
		case "request_timeout":
			h.RequestTimeout, err = durationArg(d)
		case "max_message_size":
			h.MaxMessageSize, err = sizeArg(d)
		case "allowed_origins":
			h.AllowedOrigins, err = appendArgs(d, h.AllowedOrigins)
		case "allowed_hosts":
			h.AllowedHosts, err = appendArgs(d, h.AllowedHosts)
		case "keepalive":
			h.KeepAlive, err = durationArg(d)
		case "replay_buffer":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.Err("replay_buffer takes two arguments: replay_buffer <events> <size>, e.g. 512 1MiB")
			}
			if h.ReplayEvents, err = strconv.Atoi(args[0]); err != nil || h.ReplayEvents <= 0 {
				return d.Errf("replay_buffer: events must be a positive integer, got %q", args[0])
			}
			size, err := humanize.ParseBytes(args[1])
			if err != nil || size == 0 || size > math.MaxInt {
				return d.Errf("replay_buffer: invalid size %q", args[1])
			}
			h.ReplayBytes = int(size)
		case "max_in_flight":
			h.MaxInFlight, err = positiveIntArg(d)
		default:
			return d.Errf("unrecognized mcp_proxy subdirective %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	if h.Stdio == nil {
		return d.Err("mcp_proxy needs an upstream: add a stdio <command> line")
	}
	return nil
}

// parseStdio parses `stdio <command> [<args...>] { ... }`.
func parseStdio(d *caddyfile.Dispenser) (*StdioUpstream, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.Err("stdio needs a command, e.g. stdio npx -y @modelcontextprotocol/server-everything")
	}
	u := &StdioUpstream{Command: args[0], Args: args[1:]}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
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
			u.Dir, err = singleArg(d)
		case "max_processes":
			u.MaxProcesses, err = positiveIntArg(d)
		case "warm":
			var n int
			n, err = intArg(d)
			if err == nil && n < 0 {
				err = d.Errf("warm must be zero or positive, got %d", n)
			}
			u.Warm = &n
		case "idle_timeout":
			u.IdleTimeout, err = durationArg(d)
		case "stop_timeout":
			u.StopTimeout, err = durationArg(d)
		case "acquire_timeout":
			u.AcquireTimeout, err = durationArg(d)
		default:
			return nil, d.Errf("unrecognized stdio subdirective %q", d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	limit := u.MaxProcesses
	if limit == 0 {
		limit = pool.DefaultMaxProcesses
	}
	if u.Warm != nil && *u.Warm > limit {
		return nil, d.Errf("warm (%d) must not exceed max_processes (%d): spares count toward the limit", *u.Warm, limit)
	}
	return u, nil
}

func singleArg(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return v, nil
}

func appendArgs(d *caddyfile.Dispenser, to []string) ([]string, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.ArgErr()
	}
	return append(to, args...), nil
}

func intArg(d *caddyfile.Dispenser) (int, error) {
	name := d.Val()
	s, err := singleArg(d)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, d.Errf("%s: %q is not an integer", name, s)
	}
	return n, nil
}

func positiveIntArg(d *caddyfile.Dispenser) (int, error) {
	name := d.Val()
	n, err := intArg(d)
	if err == nil && n <= 0 {
		err = d.Errf("%s must be a positive integer, got %d", name, n)
	}
	return n, err
}

func durationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	name := d.Val()
	s, err := singleArg(d)
	if err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(s)
	if err != nil {
		return 0, d.Errf("%s: invalid duration %q: %v", name, s, err)
	}
	if dur <= 0 {
		return 0, d.Errf("%s must be positive, got %s", name, s)
	}
	return caddy.Duration(dur), nil
}

func sizeArg(d *caddyfile.Dispenser) (int64, error) {
	name := d.Val()
	s, err := singleArg(d)
	if err != nil {
		return 0, err
	}
	size, err := humanize.ParseBytes(s)
	if err != nil || size == 0 || size > math.MaxInt64 {
		return 0, d.Errf("%s: invalid size %q (e.g. 4MB, 512KiB)", name, s)
	}
	return int64(size), nil
}

// Interface guard.
var _ caddyfile.Unmarshaler = (*Handler)(nil)
