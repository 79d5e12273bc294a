// Package caddymcp is the Caddy face of the MCP gateway: the
// http.handlers.mcp_proxy module, its Caddyfile directive, its selection
// policies, and the app (mcp) that owns the stdio process pools. It turns
// configuration into the plain-Go parts below it (front, upstream, pool,
// pipeline) and wires them to Caddy. The other modules are packages of
// their own below it (stages, mcpauth, admin, console, mcpmatcher,
// commands); it shares state with them through caddymcp/mcpstate.
//
// It may import caddy, caddymcp/mcpstate, caddymcp/internal/mcphttp,
// caddymcp/front and the plain-Go packages; never another module package
// of caddymcp: it finds its pipeline stages in Caddy's module registry.
package caddymcp

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcptrace"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/balance"
	"github.com/caddy-mcp/caddy-mcp/upstream/federate"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Defaults of the handler's settings.
const (
	DefaultSessionIdleTimeout = 30 * time.Minute
	DefaultMaxSessions        = 10000
	// DefaultMaxSessionsPerClient bounds one client's sessions: generous
	// for a real client (one session per server connection it holds), but
	// a single client that opens sessions in a loop meets its own bound,
	// where its own oldest idle sessions give way, long before it crowds
	// out everyone else's.
	DefaultMaxSessionsPerClient = 64
	DefaultRequestTimeout       = 10 * time.Minute
	// DefaultReplayBudget bounds the replay buffers of one endpoint
	// together. Each stream's own bound (512 events, 1 MiB) alone would let
	// the default 10000 sessions hold 10 GiB. Measured
	// (BenchmarkIdleSessionReplay in caddymcp/front): a session with one
	// answered call (a delivered answer holds nothing) and five typical
	// notifications on a GET stream nobody listens to (a list change, log
	// lines, a resource update) holds 551 bytes, which is what the budget
	// counts; each held event costs about 200 heap bytes more, which it
	// does not (BenchmarkReplayEventHeld). 64 MiB gives each of 10000 idle
	// sessions 6.7 KiB, some 60 such notifications or twelve times the
	// measured session, or leaves a few hundred sessions room for full
	// 4 MiB answers (max_message_size) that wait for a client to resume.
	// Above it the oldest events of streams nobody listens to go first.
	DefaultReplayBudget = 64 << 20
)

// Handler is an MCP endpoint: it serves MCP clients over Streamable HTTP
// and forwards their sessions to an upstream MCP server.
type Handler struct {
	// Name is the endpoint's name wherever operators read it (the admin
	// API, the console, the endpoint label of the metrics, logs, tapes) and
	// the key of its session store: a reload keeps every session of an
	// endpoint whose name is unchanged. The Caddyfile fills it in with the
	// site address and the path (localhost:8080/mcp); unset in JSON, it is
	// one from the upstreams (stdio:server-everything, or an HTTP
	// upstream's host), with "#2", … for a differently configured handler
	// that would get the same. Two handlers configured differently must
	// not share a name.
	Name string `json:"name,omitempty"`
	// Upstreams are the MCP servers the endpoint serves from: one, or
	// several that new sessions and 2026-07-28 requests are spread over
	// (a 2025 session stays on the upstream that initialized it).
	Upstreams []*UpstreamConfig `json:"upstreams,omitempty"`
	// Servers are different MCP servers served as one (federation.go):
	// each holds what Upstreams and the balancing settings hold for one
	// server. Used instead of them; one server is the same as its
	// upstreams at the top level.
	Servers []*ServerConfig `json:"servers,omitempty"`
	// Federate says how several servers show as one.
	Federate *FederateConfig `json:"federate,omitempty"`
	// LBPolicyRaw selects the upstream of a new session or 2026-07-28
	// request among the available ones (default round_robin).
	LBPolicyRaw json.RawMessage `json:"lb_policy,omitempty" caddy:"namespace=http.handlers.mcp_proxy.selection_policies inline_key=policy"`
	// LBRetries is how many more upstreams a new session tries when its
	// initialize gets no answer, and a retriable 2026-07-28 request (the
	// first page of a list, resources/read, ping, server/discover; never
	// tools/call) when its upstream gives none (default: each other
	// upstream once).
	LBRetries *int `json:"lb_retries,omitempty"`
	// HealthChecks configures active and passive health of the upstreams.
	HealthChecks *HealthChecks `json:"health_checks,omitempty"`
	// Record records the endpoint's sessions to tapes (record.go).
	Record *RecordConfig `json:"record,omitempty"`
	// Cache configures the cache of what the servers mark public
	// (cache.go); nil: on, with the defaults.
	Cache *CacheConfig `json:"cache,omitempty"`
	// SessionIdleTimeout ends sessions with no request and no open stream for this long (default 30m).
	SessionIdleTimeout caddy.Duration `json:"session_idle_timeout,omitempty"`
	// MaxSessions bounds the live sessions of the endpoint (default 10000).
	// At the bound the least recently used idle session ends to make room.
	MaxSessions int `json:"max_sessions,omitempty"`
	// MaxSessionsPerClient bounds the live sessions of one client — its
	// authenticated user, else its address (Caddy's client_ip) — (default
	// 64); at the bound the client's own least recently used idle session
	// ends to make room.
	MaxSessionsPerClient int `json:"max_sessions_per_client,omitempty"`
	// RequestTimeout bounds how long a request waits for the upstream's response (default 10m).
	RequestTimeout caddy.Duration `json:"request_timeout,omitempty"`
	// MaxMessageSize bounds a client message (a POST body) and a server message, in bytes (default 4 MiB).
	MaxMessageSize int64 `json:"max_message_size,omitempty"`
	// AllowedOrigins lists Origin header values accepted besides loopback origins and the request's own host; "*" accepts any.
	AllowedOrigins []string `json:"allowed_origins,omitempty"`
	// AllowedHosts lists Host header values accepted besides loopback names; "*" accepts any. Unset, only
	// loopback listeners check the Host; set, every listener does (e.g. a container behind a port mapping).
	AllowedHosts []string `json:"allowed_hosts,omitempty"`
	// VerboseErrors puts the detail of upstream failures (URL, addresses,
	// command line, pid) into the errors clients read, for development. Off
	// by default: clients get a clear message and a correlation_id that the
	// log line with the detail carries.
	VerboseErrors bool `json:"verbose_errors,omitempty"`
	// KeepAlive is the interval of keep-alive comments on idle SSE streams (default 15s).
	KeepAlive caddy.Duration `json:"keepalive,omitempty"`
	// ReplayEvents bounds the events each stream keeps for resumption (default 512).
	ReplayEvents int `json:"replay_events,omitempty"`
	// ReplayBytes bounds the bytes each stream keeps for resumption (default 1 MiB).
	ReplayBytes int `json:"replay_bytes,omitempty"`
	// ReplayBudget bounds the bytes every stream of the endpoint keeps for
	// resumption together (default 64 MiB, see DefaultReplayBudget). Above
	// it the oldest events of streams no client listens to go first —
	// delivered ones, then undelivered ones, which the client misses when
	// it resumes (counted and logged) — and those of listened streams only
	// when nothing else is left. It applies live on a reload.
	ReplayBudget int64 `json:"replay_budget,omitempty"`
	// MaxInFlight bounds the requests in flight per session (default 64).
	MaxInFlight int `json:"max_in_flight,omitempty"`
	// HeldProgressInterval is how often the client of a request that a stage
	// holds (a pause, a delay) hears the gateway's progress while held, if it
	// gave a progressToken (default 10s, front.DefaultHeldProgressInterval).
	HeldProgressInterval caddy.Duration `json:"held_progress_interval,omitempty"`
	// Pipeline lists the stages every message passes, as modules of the
	// http.handlers.mcp_proxy.stages namespace named by their "stage" key
	// (pipeline.go; the stage modules are in caddymcp/stages).
	Pipeline []json.RawMessage `json:"pipeline,omitempty" caddy:"namespace=http.handlers.mcp_proxy.stages inline_key=stage"`
	// Cluster makes the endpoint one of several instances serving one MCP
	// service: sealed session ids any of them accepts (cluster.go).
	Cluster *ClusterConfig `json:"cluster,omitempty"`
	// PinTools pins the tool definitions the server lists on first use
	// and withholds changed ones until approved (pintools.go).
	PinTools *PinToolsConfig `json:"pin_tools,omitempty"`
	// TraceArguments puts a tools/call's arguments and result on its
	// spans when the site traces requests (Caddy's tracing handler): off
	// by default, since they may hold what a trace store must not (tracing.go).
	TraceArguments bool `json:"trace_arguments,omitempty"`

	server      *front.Server
	app         *App      // this configuration's mcp app: what its mcp_auth handlers guard
	interceptAt []string  // while the Caddyfile is parsed: where each intercept block is (file:line)
	hooked      *sync.Map // *http.Server → struct{}: servers whose shutdown ends our streams (hookShutdown)
	storeKey    string
	poolKeys    []string // in mcpstate.StdioPools
	memberKeys  []string // in memberStates
	members     []*balance.Member
	built       []*provisionedUpstream
	balance     *balance.Group       // nil for one upstream without health judged
	federation  *federate.Federation // nil without several servers (federation.go)
	serverName  string               // in a federation, the server whose replicas this handler builds
	policy      selectionPolicy
	logger      *zap.Logger
	metrics     *endpointMetrics
	hide        *hideStage      // mcp_auth's hide_unauthorized applied here (hidestage.go); nil when none
	watch       *pipeline.Watch // what the stages' rules read (stagewatch.go); nil: the protocol's
	cluster     *front.Cluster  // nil without a cluster block (cluster.go)
	nodeURL     string          // the cluster's node_url, resolved ("" none)
	pinned      bool            // holds a pin book in mcpstate.PinBooks (pintools.go)

	clusterNeedsName error // the adapter's error for a cluster without a name, at the cluster line
	clusterNeedsNode error // the adapter's error for a cluster without node_url on a stdio endpoint, at the cluster line
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.mcp_proxy",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision builds the endpoint. Expensive state (process pools, sessions)
// comes from usage pools so that a reload that keeps it keeps it running;
// no process starts here (the mcp app starts the pools).
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.hooked = new(sync.Map)
	// As configured: loading guest modules clears their raw JSON.
	configured, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("mcp_proxy: %v", err)
	}
	if err := h.checkServersConfig(); err != nil { // federation.go
		return err
	}
	if err := h.checkConfig(ctx); err != nil {
		return err
	}
	if h.cluster, err = h.provisionCluster(ctx); err != nil {
		return err
	}
	maxMessage := cmp.Or(h.MaxMessageSize, front.DefaultMaxMessageSize)
	if h.storeKey, err = h.app.claimEndpoint(h.Name, endpointDefaultName(h), configured); err != nil {
		return err
	}
	h.logger = h.logger.With(zap.String("endpoint", h.storeKey))
	h.metrics = newEndpointMetrics(h.storeKey) // before the upstreams, whose hooks count into it
	up, err := h.provisionServers(ctx, int(maxMessage))
	if err != nil {
		return err
	}
	entry, err := h.provisionStore(ctx)
	if err != nil {
		return err
	}
	chain, err := h.provisionPipeline(ctx)
	if err != nil {
		return err
	}
	if err := h.registerHeldRedaction(); err != nil {
		return err
	}
	cfg := h.frontConfig(up, entry.Store, chain, maxMessage)
	h.useCache(&cfg)
	if observeRequests {
		if err := h.observe(&cfg, entry); err != nil {
			return err
		}
	}
	h.server, err = front.New(cfg)
	return err
}

// checkConfig loads the mcp app and the selection policy, and rejects a
// configuration with no upstream, a bad upstream or a negative bound.
func (h *Handler) checkConfig(ctx caddy.Context) error {
	var err error
	if h.app, err = mcpApp(ctx); err != nil {
		return fmt.Errorf("mcp_proxy: loading the mcp app: %v", err)
	}
	if len(h.Upstreams) == 0 && !h.federated() {
		return errors.New("mcp_proxy: configure an upstream (a stdio or an http block)")
	}
	for i, u := range h.Upstreams {
		if err := u.check(); err != nil {
			return fmt.Errorf("mcp_proxy: upstream %d: %v", i+1, err)
		}
	}
	if err := h.validateSettings(); err != nil {
		return err
	}
	return h.loadPolicy(ctx)
}

// provisionStore finds (or makes) the endpoint's session store, which
// outlives a reload in mcpstate, and applies this config's limits to it.
func (h *Handler) provisionStore(ctx caddy.Context) (*mcpstate.StoreEntry, error) {
	limits := front.Limits{
		MaxSessions:          cmp.Or(h.MaxSessions, DefaultMaxSessions),
		MaxSessionsPerClient: cmp.Or(h.MaxSessionsPerClient, DefaultMaxSessionsPerClient),
		IdleTimeout:          cmp.Or(time.Duration(h.SessionIdleTimeout), DefaultSessionIdleTimeout),
		ReplayBudget:         cmp.Or(h.ReplayBudget, DefaultReplayBudget),
	}
	sval, _, err := mcpstate.SessionStores.LoadOrNew(h.storeKey, func() (caddy.Destructor, error) {
		return &mcpstate.StoreEntry{Store: front.NewStore(limits, h.logger), Calls: new(mcpstate.CallLog)}, nil
	})
	if err != nil {
		return nil, err
	}
	entry := sval.(*mcpstate.StoreEntry)
	if err := registerMetrics(ctx); err != nil {
		return nil, fmt.Errorf("mcp_proxy: registering metrics: %v", err)
	}
	entry.Store.SetLimits(limits)
	describe(entry, h.built, h.members)
	entry.NodeURL.Store(&h.nodeURL)
	return entry, nil
}

// frontConfig is the front's configuration: the handler's settings, with
// the defaults the handler owns, and the hooks that tell the front who the
// client is.
func (h *Handler) frontConfig(up upstream.Upstream, store *front.Store, chain *pipeline.Chain, maxMessage int64) front.Config {
	return front.Config{
		Upstream:       up,
		Store:          store,
		Chain:          chain,
		MaxMessageSize: maxMessage,
		RequestTimeout: cmp.Or(time.Duration(h.RequestTimeout), DefaultRequestTimeout),
		AllowedOrigins: h.AllowedOrigins,
		AllowedHosts:   h.AllowedHosts,
		KeepAlive:      time.Duration(h.KeepAlive),
		ReplayEvents:   h.ReplayEvents,
		ReplayBytes:    h.ReplayBytes,
		MaxInFlight:    h.MaxInFlight,
		Clients:        caddyClients{},
		Logger:         h.logger,
		VerboseErrors:  h.VerboseErrors,
		Watch:          h.watch,
		Cluster:        h.cluster,

		HeldProgressInterval: time.Duration(h.HeldProgressInterval),
		Servers:              h.resolveServer(),
		Trace:                mcptrace.Options{Arguments: h.TraceArguments},
	}
}

// observe gives cfg the observer that publishes each request's
// placeholders, logs the endpoint's recent tool calls and counts its
// streams.
func (h *Handler) observe(cfg *front.Config, entry *mcpstate.StoreEntry) error {
	obs := &observer{metrics: h.metrics, calls: entry.Calls, server: h.serverOf()}
	var err error
	if obs.redactor, err = callRedactor(h.Record); err != nil {
		return err
	}
	cfg.Observer = obs
	return nil
}

// validateSettings rejects negative bounds with a message naming the setting.
func (h *Handler) validateSettings() error {
	var errs []error
	var lbRetries int64 // refused here too when no group would use it
	if h.LBRetries != nil {
		lbRetries = int64(*h.LBRetries)
	}
	for _, c := range []struct {
		name string
		v    int64
	}{
		{"lb_retries", lbRetries},
		{"session_idle_timeout", int64(h.SessionIdleTimeout)},
		{"max_sessions", int64(h.MaxSessions)},
		{"max_sessions_per_client", int64(h.MaxSessionsPerClient)},
		{"request_timeout", int64(h.RequestTimeout)},
		{"max_message_size", h.MaxMessageSize},
		{"keepalive", int64(h.KeepAlive)},
		{"replay_events", int64(h.ReplayEvents)},
		{"replay_bytes", int64(h.ReplayBytes)},
		{"replay_budget", h.ReplayBudget},
		{"max_in_flight", int64(h.MaxInFlight)},
		{"held_progress_interval", int64(h.HeldProgressInterval)},
	} {
		if c.v < 0 {
			errs = append(errs, fmt.Errorf("mcp_proxy: %s must not be negative", c.name))
		}
	}
	return errors.Join(errs...)
}

// Validate checks the configuration after provisioning.
func (h *Handler) Validate() error {
	return nil
}

// Cleanup releases this configuration's hold on shared state. Sessions and
// processes stay if the configuration replacing this one uses them.
func (h *Handler) Cleanup() error {
	if h.server != nil {
		if caddy.Exiting() {
			h.server.Exit() // normally done already, by hookShutdown
		} else {
			h.server.Shutdown()
		}
	}
	var errs []error
	if h.storeKey != "" {
		mcpstate.HeldRedaction.Remove(h.storeKey, h)
		if _, err := mcpstate.SessionStores.Delete(h.storeKey); err != nil {
			errs = append(errs, err)
		}
	}
	for _, key := range h.poolKeys {
		if _, err := mcpstate.StdioPools.Delete(key); err != nil {
			errs = append(errs, err)
		}
	}
	for _, key := range h.memberKeys {
		if _, err := memberStates.Delete(key); err != nil {
			errs = append(errs, err)
		}
	}
	for _, u := range h.Upstreams {
		if u.HTTP != nil {
			errs = append(errs, u.HTTP.cleanup())
		}
	}
	errs = append(errs, h.cleanupServers())
	if h.Record != nil {
		errs = append(errs, h.Record.cleanup())
	}
	errs = append(errs, h.releasePins())
	return errors.Join(errs...)
}

// ServeHTTP serves the MCP endpoint. It is terminal: next is not called.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	h.hookShutdown(r)
	if h.refuseUnjudged(w, r) || h.refuseUnhidden(w, r) {
		return nil
	}
	if r.Method != http.MethodPost || !observeRequests {
		h.server.ServeHTTP(w, r)
		return nil
	}
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	h.server.ServeHTTP(rec, r)
	method := rec.method // the observer's OnRequest left it here
	if !rec.described {
		// Not described on rec (refused before, or described on a
		// wrapper): what the request last published, maybe the mcp
		// matcher's description. Reading the replacer back costs a
		// context walk and a look through every placeholder provider.
		info, _ := mcphttp.PublishedInfo(r)
		method = info.Method
	}
	h.metrics.observeRecorded(method, rec, time.Since(start))
	return nil
}

// hookShutdown makes the shutdown of the HTTP server serving r end this
// endpoint's long streams, once per server. Cleanup alone is too late at
// exit: there the http app's Stop waits for running handlers (forever with
// the default grace period) before any module is cleaned up, so an open
// MCP stream would keep Caddy from exiting. The server begins its shutdown
// at a reload of its configuration too; that case ends what Cleanup ends.
func (h *Handler) hookShutdown(r *http.Request) {
	srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	if !ok {
		return
	}
	if _, done := h.hooked.Load(srv); done {
		return
	}
	if _, done := h.hooked.LoadOrStore(srv, struct{}{}); done {
		return
	}
	fs := h.server
	srv.RegisterOnShutdown(func() {
		if caddy.Exiting() {
			fs.Exit()
		} else {
			fs.Shutdown()
		}
	})
}

// hashKey is a short stable hash for usage-pool keys.
func hashKey(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
