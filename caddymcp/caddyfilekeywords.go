package caddymcp

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/pipeline/intercept"
	"github.com/caddy-mcp/caddy-mcp/upstream/replay"
)

// The subdirectives of mcp_proxy's blocks, each with its parser (the
// syntax is in caddyfile.go). The parsers dispatch on these tables and an
// unknown subdirective's error lists their keys, so a subdirective is
// added with one line here.

// dispenser is short for the parsers' signatures.
type dispenser = *caddyfile.Dispenser

// Short names, so that a table's entry fits on one line.
var (
	durationArg = mcphttp.DurationArg
	sizeArg     = mcphttp.SizeArg
	positiveArg = mcphttp.PositiveIntArg
	singleArg   = mcphttp.SingleArg
)

// read is mcphttp.Read: a value read with r lands in *dst.
func read[V any](d dispenser, dst *V, r func(dispenser) (V, error)) error {
	return mcphttp.Read(d, dst, r)
}

// proxyKeywords are mcp_proxy's own subdirectives; the load balancing and
// health lines (balancingKeywords) join them in init.
var proxyKeywords = mcphttp.Keywords[*Handler]{
	"name":   func(h *Handler, d dispenser) error { return read(d, &h.Name, singleArg) },
	"stdio":  (*Handler).parseStdioLine,
	"http":   (*Handler).parseHTTPLine,
	"replay": (*Handler).parseReplayLine,
	"record": (*Handler).parseRecordLine,

	"session_idle_timeout":    func(h *Handler, d dispenser) error { return read(d, &h.SessionIdleTimeout, durationArg) },
	"max_sessions":            func(h *Handler, d dispenser) error { return read(d, &h.MaxSessions, positiveArg) },
	"max_sessions_per_client": func(h *Handler, d dispenser) error { return read(d, &h.MaxSessionsPerClient, positiveArg) },
	"request_timeout":         func(h *Handler, d dispenser) error { return read(d, &h.RequestTimeout, durationArg) },
	"max_message_size":        func(h *Handler, d dispenser) error { return read(d, &h.MaxMessageSize, sizeArg) },
	"allowed_origins":         func(h *Handler, d dispenser) error { return mcphttp.AppendTo(d, &h.AllowedOrigins) },
	"allowed_hosts":           func(h *Handler, d dispenser) error { return mcphttp.AppendTo(d, &h.AllowedHosts) },
	"verbose_errors":          func(h *Handler, d dispenser) error { return mcphttp.FlagArg(d, &h.VerboseErrors) },
	"keepalive":               func(h *Handler, d dispenser) error { return read(d, &h.KeepAlive, durationArg) },
	"replay_buffer":           (*Handler).parseReplayBuffer,
	"replay_budget":           func(h *Handler, d dispenser) error { return read(d, &h.ReplayBudget, sizeArg) },
	"max_in_flight":           func(h *Handler, d dispenser) error { return read(d, &h.MaxInFlight, positiveArg) },
	"held_progress":           func(h *Handler, d dispenser) error { return read(d, &h.HeldProgressInterval, durationArg) },

	// The pipeline's, parsed by its stage modules (stages/caddyfile.go).
	"intercept":  (*Handler).parseInterceptLine,
	"max_held":   stageLine("intercept"),
	"max_decode": stageLine("intercept"),
	"tools":      stageLine("filter"),
	"prompts":    stageLine("filter"),
	"resources":  stageLine("filter"),

	"server":          (*Handler).unmarshalServer,                                         // federationcaddyfile.go
	"federate":        (*Handler).unmarshalFederate,                                       // federationcaddyfile.go
	"cache":           (*Handler).parseCache,                                              // cache.go
	"cluster":         (*Handler).unmarshalCluster,                                        // cluster.go
	"trace_arguments": (*Handler).parseTraceArguments,                                     // tracing.go
	"pin_tools":       func(h *Handler, d dispenser) error { return parsePinTools(d, h) }, // pintools.go
}

func init() { maps.Copy(proxyKeywords, balancingKeywords) }

// stageLine hands a subdirective to the pipeline stage named stage.
func stageLine(stage string) func(*Handler, dispenser) error {
	return func(h *Handler, d dispenser) error { return h.addStage(stage, d) }
}

// parseInterceptLine hands an intercept block to the intercept stage,
// noting where it is written for unreachableRules.
func (h *Handler) parseInterceptLine(d dispenser) error {
	h.interceptAt = append(h.interceptAt, fmt.Sprintf("%s:%d", d.File(), d.Line()))
	return h.addStage("intercept", d)
}

// unreachableRules says, with both rules' lines, which intercept rule an
// earlier one makes unreachable (intercept.Unreachable). The stage warns
// of them again when it loads, without the lines.
func (h *Handler) unreachableRules() []string {
	var out []string
	for _, raw := range h.Pipeline {
		var st struct {
			Stage string           `json:"stage"`
			Rules []intercept.Rule `json:"rules"`
		}
		if json.Unmarshal(raw, &st) != nil || st.Stage != "intercept" || len(st.Rules) != len(h.interceptAt) {
			continue
		}
		for _, s := range intercept.Unreachable(st.Rules) {
			out = append(out, intercept.ShadowMessage(st.Rules, s, h.interceptAt[s.Later], h.interceptAt[s.Earlier]))
		}
	}
	return out
}

func (h *Handler) parseStdioLine(d dispenser) (err error) {
	u := new(UpstreamConfig)
	u.Stdio, err = parseStdio(d, &u.Name)
	h.Upstreams = append(h.Upstreams, u)
	return err
}

func (h *Handler) parseHTTPLine(d dispenser) (err error) {
	u := new(UpstreamConfig)
	u.HTTP, err = parseHTTP(d, &u.Name)
	h.Upstreams = append(h.Upstreams, u)
	return err
}

func (h *Handler) parseReplayLine(d dispenser) (err error) {
	u := new(UpstreamConfig)
	u.Replay, err = parseReplay(d, &u.Name)
	h.Upstreams = append(h.Upstreams, u)
	return err
}

func (h *Handler) parseRecordLine(d dispenser) (err error) {
	if h.Record != nil {
		return d.Err("record is set twice")
	}
	h.Record, err = parseRecord(d)
	return err
}

// stdioBlock is what a stdio block's lines set: the upstream and its name.
type stdioBlock struct {
	*StdioUpstream
	name *string
}

// stdioKeywords are the subdirectives of a stdio block.
var stdioKeywords = mcphttp.Keywords[stdioBlock]{
	"name":                func(b stdioBlock, d dispenser) error { return read(d, b.name, upstreamNameArg) },
	"env":                 stdioBlock.parseEnv,
	"dir":                 func(b stdioBlock, d dispenser) error { return read(d, &b.Dir, singleArg) },
	"max_processes":       func(b stdioBlock, d dispenser) error { return read(d, &b.MaxProcesses, positiveArg) },
	"warm":                func(b stdioBlock, d dispenser) error { return read(d, &b.Warm, count("zero or positive")) },
	"idle_timeout":        func(b stdioBlock, d dispenser) error { return read(d, &b.IdleTimeout, durationArg) },
	"stop_timeout":        func(b stdioBlock, d dispenser) error { return read(d, &b.StopTimeout, durationArg) },
	"acquire_timeout":     func(b stdioBlock, d dispenser) error { return read(d, &b.AcquireTimeout, durationArg) },
	"protocol":            func(b stdioBlock, d dispenser) error { return read(d, &b.Protocol, protocolArg) },
	"probe_timeout":       func(b stdioBlock, d dispenser) error { return read(d, &b.ProbeTimeout, durationArg) },
	"shared":              func(b stdioBlock, d dispenser) error { return read(d, &b.Shared, count("zero (off) or positive")) },
	"spare_check":         stdioBlock.parseSpareCheck,
	"spare_check_timeout": func(b stdioBlock, d dispenser) error { return read(d, &b.SpareCheckTimeout, durationArg) },
}

// parseEnv parses `env <name> <value>`.
func (b stdioBlock) parseEnv(d dispenser) error {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return d.Err("env takes a name and a value: env <name> <value>")
	}
	if args[0] == "" || strings.ContainsAny(args[0], "=\x00") {
		return d.Errf("env: invalid variable name %q", args[0])
	}
	if _, dup := b.Env[args[0]]; dup {
		return d.Errf("env: %s is set twice", args[0])
	}
	if b.Env == nil {
		b.Env = make(map[string]string)
	}
	b.Env[args[0]] = args[1]
	return nil
}

func (b stdioBlock) parseSpareCheck(d dispenser) (err error) {
	if b.SpareCheck, err = mcphttp.SingleArg(d); err != nil {
		return err
	}
	if cerr := b.checkSpareCheck(); cerr != nil {
		return d.Err(cerr.Error())
	}
	return nil
}

// count reads one integer of zero or more; what says so in the error.
func count(what string) func(dispenser) (*int, error) {
	return func(d dispenser) (*int, error) {
		name := d.Val()
		n, err := mcphttp.IntArg(d)
		if err == nil && n < 0 {
			err = d.Errf("%s must be %s, got %d", name, what, n)
		}
		return &n, err
	}
}

// The readers of lines that take one of a few words.
var (
	protocolArg  = choice("legacy", "modern", "auto")
	transportArg = choice("streamable", "sse", "auto")
	matchArg     = choice(replay.MatchParams, replay.MatchSequence, replay.MatchStrict)
)

// choice reads one argument that must be one of choices.
func choice(choices ...string) func(dispenser) (string, error) {
	return func(d dispenser) (string, error) {
		name := d.Val()
		v, err := mcphttp.SingleArg(d)
		if err != nil || slices.Contains(choices, v) {
			return v, err
		}
		last := len(choices) - 1
		return v, d.Errf("%s must be %s or %s, got %q%s", name, strings.Join(choices[:last], ", "), choices[last], v, mcphttp.DidYouMean(v, choices))
	}
}

// httpBlock is what an http block's lines set: the upstream, its name and
// the trusted CA files (which become one trust pool at the end).
type httpBlock struct {
	*HTTPUpstream
	name    *string
	caFiles *[]string
}

// httpKeywords are the subdirectives of an http block.
var httpKeywords = mcphttp.Keywords[httpBlock]{
	"name":                     func(b httpBlock, d dispenser) error { return read(d, b.name, upstreamNameArg) },
	"transport":                func(b httpBlock, d dispenser) error { return read(d, &b.MCPTransport, transportArg) },
	"header_up":                func(b httpBlock, d dispenser) error { return b.parseHeaderUp(d) },
	"pass_authorization":       func(b httpBlock, d dispenser) error { return mcphttp.FlagArg(d, &b.PassAuthorization) },
	"auth":                     func(b httpBlock, d dispenser) error { return read(d, &b.Auth, parseUpstreamAuth) },
	"response_header_timeout":  func(b httpBlock, d dispenser) error { return read(d, &b.ResponseHeaderTimeout, durationArg) },
	"idle_timeout":             func(b httpBlock, d dispenser) error { return read(d, &b.IdleTimeout, durationArg) },
	"dial_timeout":             func(b httpBlock, d dispenser) error { return read(d, &b.transport().DialTimeout, durationArg) },
	"tls_trusted_ca_certs":     func(b httpBlock, d dispenser) error { return mcphttp.AppendTo(d, b.caFiles) },
	"tls_client_auth":          httpBlock.parseTLSClientAuth,
	"tls_server_name":          func(b httpBlock, d dispenser) error { return read(d, &b.tlsConfig().ServerName, singleArg) },
	"tls_insecure_skip_verify": func(b httpBlock, d dispenser) error { return mcphttp.FlagArg(d, &b.tlsConfig().InsecureSkipVerify) },
}

func (b httpBlock) parseTLSClientAuth(d dispenser) error {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return d.Err("tls_client_auth takes a certificate file and a key file")
	}
	t := b.tlsConfig()
	t.ClientCertificateFile, t.ClientCertificateKeyFile = args[0], args[1]
	return nil
}
