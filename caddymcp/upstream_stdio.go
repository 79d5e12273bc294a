package caddymcp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream/stdio"
)

// StdioUpstream runs a local MCP server as a subprocess, one process per
// client session, from a pool that keeps warm spares.
//
// What defines a process is the command, args, env (after placeholders) and
// dir, plus the protocol: a reload that changes one of them starts a new pool
// for new sessions while old sessions finish on the old processes. A reload
// that changes only the other settings (sizes, timeouts, shared, the spare
// check) keeps the pool, its processes and sessions, and applies them live.
type StdioUpstream struct {
	// Command is the executable to run (no shell); a bare name is looked up
	// in the child's PATH.
	Command string `json:"command"`
	// Args are the command's arguments.
	Args []string `json:"args,omitempty"`
	// Env sets environment variables of the child, on top of an allowlist
	// taken from Caddy's own (PATH, HOME, USER, LANG, LC_*, TZ, TMPDIR).
	// Values may use placeholders such as {env.API_KEY}.
	Env map[string]string `json:"env,omitempty"`
	// Dir is the child's working directory (default: Caddy's).
	Dir string `json:"dir,omitempty"`
	// MaxProcesses bounds the live processes, warm spares included (default 16).
	MaxProcesses int `json:"max_processes,omitempty"`
	// Warm is how many spare processes are started ahead so a new session
	// does not wait for a cold start (default 1; 0 for none).
	Warm *int `json:"warm,omitempty"`
	// IdleTimeout stops surplus spares (beyond Warm) unused this long (default 1m).
	IdleTimeout caddy.Duration `json:"idle_timeout,omitempty"`
	// StopTimeout is each wait of the shutdown sequence close-stdin → SIGTERM → SIGKILL (default 5s).
	StopTimeout caddy.Duration `json:"stop_timeout,omitempty"`
	// AcquireTimeout is how long a new session waits for a free process
	// before it is answered 503 with Retry-After (default 5s).
	AcquireTimeout caddy.Duration `json:"acquire_timeout,omitempty"`
	// Protocol is the server's MCP era: "legacy" (2025 revisions with
	// initialize: 2026-07-28 clients are told to fall back), "modern"
	// (also serves stateless 2026-07-28 requests) or "auto" (default: probe
	// once with server/discover on a throwaway process, and remember).
	Protocol string `json:"protocol,omitempty"`
	// ProbeTimeout bounds the wait for the auto probe's server/discover
	// answer once the process answered a ping; no answer in time means
	// legacy until the probe is retried (default 10s).
	ProbeTimeout caddy.Duration `json:"probe_timeout,omitempty"`
	// Shared is the most processes that serve 2026-07-28 requests together
	// through a JSON-RPC mux, per authenticated user (default 2; 0 turns
	// stateless serving over stdio off, so 2026 clients fall back to
	// sessions); they count toward max_processes.
	Shared *int `json:"shared,omitempty"`
	// SpareCheck is how a new spare is checked before a session gets it:
	// "ping" (default: an MCP ping, which servers answer before initialize;
	// the spare counts as ready once answered) or "off" (ready once started).
	SpareCheck string `json:"spare_check,omitempty"`
	// SpareCheckTimeout bounds the ping (default 30s); a server that does
	// not answer in time gets its later spares unchecked.
	SpareCheckTimeout caddy.Duration `json:"spare_check_timeout,omitempty"`
}

// checkSpareCheck rejects an unknown spare_check value.
func (u *StdioUpstream) checkSpareCheck() error {
	switch u.SpareCheck {
	case "", "ping", "off":
		return nil
	}
	return fmt.Errorf("spare_check must be ping or off, got %q", u.SpareCheck)
}

// options are the upstream's settings for stateless requests.
func (u *StdioUpstream) options() stdio.Options {
	opts := stdio.Options{Protocol: u.Protocol, ProbeTimeout: time.Duration(u.ProbeTimeout)}
	if u.Shared != nil {
		opts.Shared = *u.Shared
		if opts.Shared == 0 {
			opts.Shared = stdio.NoShared
		}
	}
	return opts
}

// poolConfig turns the configuration into the pool's, with placeholders in
// the command, arguments, directory and environment replaced; maxMessage
// bounds a line of the spare check.
func (u *StdioUpstream) poolConfig(logger *zap.Logger, maxMessage int) pool.Config {
	repl := caddy.NewReplacer()
	cfg := pool.Config{
		Command:        repl.ReplaceKnown(u.Command, ""),
		Dir:            repl.ReplaceKnown(u.Dir, ""),
		MaxProcesses:   u.MaxProcesses,
		IdleTimeout:    time.Duration(u.IdleTimeout),
		StopTimeout:    time.Duration(u.StopTimeout),
		AcquireTimeout: time.Duration(u.AcquireTimeout),
		ReadyTimeout:   time.Duration(u.SpareCheckTimeout),
		Logger:         logger,
	}
	if u.SpareCheck != "off" {
		cfg.Ready = stdio.PingReady(maxMessage)
	}
	for _, a := range u.Args {
		cfg.Args = append(cfg.Args, repl.ReplaceKnown(a, ""))
	}
	if len(u.Env) > 0 {
		cfg.Env = make(map[string]string, len(u.Env))
		for k, v := range u.Env {
			cfg.Env[k] = repl.ReplaceKnown(v, "")
		}
	}
	if u.Warm != nil {
		cfg.Warm = *u.Warm
		if cfg.Warm == 0 {
			cfg.Warm = pool.NoWarm
		}
	}
	return cfg
}

// processKey identifies what defines a process of cfg (from poolConfig):
// the command, its arguments, its environment after placeholders and its
// directory. Sizes and timeouts are not part of it: a reload that changes
// only those keeps the pool and applies them live (pool.SetLimits).
func processKey(cfg pool.Config) string {
	b, _ := json.Marshal(struct {
		Command string            `json:"command"`
		Args    []string          `json:"args"`
		Env     map[string]string `json:"env"` // encoding/json sorts map keys
		Dir     string            `json:"dir"`
	}{cfg.Command, cfg.Args, cfg.Env, cfg.Dir})
	mac := hmac.New(sha256.New, processKeySecret[:])
	mac.Write(b)
	return "stdio:" + hex.EncodeToString(mac.Sum(nil)[:12])
}

// processKeySecret keys the hash of processKey. The env it hashes holds
// secrets after placeholders ({env.API_KEY}); usage-pool keys live only in
// this process, so a random key costs nothing and makes a key that ever
// shows up somewhere useless for guessing them.
var processKeySecret = func() (k [32]byte) {
	_, _ = rand.Read(k[:]) // crypto/rand.Read never fails
	return k
}()

// poolKey identifies the pool of an endpoint: its store key (its name)
// and the process definition, plus the
// protocol, which is the server's era and so part of what the upstream is.
// Two endpoints never share a pool; one endpoint whose command changes under
// a fixed name gets a new pool while its old sessions finish on the old one.
func poolKey(storeKey, processKey, protocol string) string {
	if protocol == "" {
		protocol = stdio.ProtocolAuto
	}
	return storeKey + "|" + processKey + "|protocol=" + protocol
}
