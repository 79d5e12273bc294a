// Command bench is caddy-mcp's side-by-side benchmark. From the repository
// root:
//
//	go run ./caddytest/bench -duration 10s -sessions 16 -out caddytest/bench/results
//
// It builds the echo MCP server (./caddytest/bench/echoserver) and this
// repository's Caddy (./cmd/caddy) into a temp dir, then runs the same load
// — N sessions at protocol 2025-11-25, each calling `echo` with a unique
// text in a loop and checking every answer — against each target in turn,
// all on 127.0.0.1 with free ports. The sessions speak Streamable HTTP by
// hand (-client raw, light on the shared cores) or through the go-sdk
// client (-client go-sdk); by default the stdio targets are measured with
// the go-sdk client as well. The targets:
//
//	echo             the echo server over Streamable HTTP, directly (the floor)
//	supergateway     supergateway (npm, caddytest/node_modules) → the stdio echo server
//	mcp-proxy        the npm mcp-proxy (caddytest/node_modules, run on the pinned Node 22) → the stdio echo server
//	caddy-mcp-stdio  this proxy → the stdio echo server (warm spares for every session)
//	caddy-mcp-stdio-rules  the same with 20 intercept rules that do not match and a tools filter
//	caddy-mcp-stdio-console  caddy-mcp-stdio with mcp_console mounted in the same site
//	caddy-mcp-federated  one endpoint federating three stdio echo servers (server blocks), calling one_echo
//	caddy-mcp-http   this proxy → the HTTP echo server
//	reverse_proxy    Caddy's reverse_proxy (flush_interval -1) → the HTTP echo server
//	caddy-mcp-stdio-baseline, caddy-mcp-http-baseline
//	                 caddy-mcp-stdio and caddy-mcp-http on the Caddy of -baseline BIN
//
// -profile DIR saves a CPU and an allocation profile of each Caddy
// target's measured window; every Caddy target also reports the heap
// objects it allocated per call (from its admin /debug/vars).
//
// The targets take turns over -rounds rounds, each started afresh per
// round; the HTTP ones run once with the echo server answering POSTs with
// SSE and once with JSON (-http-answers). Besides calls/s and latency it
// reports the CPU time per call of the process the clients talk to, of the
// load generator and of the rest of the machine.
//
// It also measures the time to first response of a new session through the
// proxy with a warm spare and with a cold spawn, and the heap the proxy's
// Caddy holds per idle session and per open SSE GET stream. It starts and
// stops every process itself (own process groups; SIGINT stops them too)
// and checks that none is left over. It prints a markdown report; -out DIR
// also writes DIR/bench.md and a chart, DIR/bench.svg.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	duration, warmup time.Duration
	sessions         int
	client           string // the load generator: clientRaw or clientGoSDK
	goSDKStdio       bool   // also load the stdio targets with the go-sdk client
	rounds           int
	targets          []string
	startup          int // sessions per startup measurement; 0 skips it
	idleSessions     int // 0 skips the idle-session memory measurement
	sseStreams       int // 0 skips the SSE stream measurement
	sseHold          time.Duration
	listCalls        int      // tools/list requests per target and round after the load; 0 skips them
	answers          []string // the HTTP echo server's POST answers: "SSE", "JSON" or both
	out              string
	caddyBin         string
	node             string
	keep             bool
	baselineBin      string   // -baseline: a second Caddy for the *-baseline targets
	profileDir       string   // -profile: where the Caddy targets' profiles go
	args             []string // as given, for the report
}

const (
	maxDuration     = 2 * time.Minute
	maxSessions     = 256
	maxIdleSessions = 10000
	maxSSEStreams   = 2000
)

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured load per target, split over the rounds (at most 2m)")
	fs.IntVar(&c.rounds, "rounds", 2, "rounds: every target is started and measured once per round, in turn")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured load before each round's measurement")
	fs.IntVar(&c.sessions, "sessions", 16, "concurrent sessions (one client each)")
	fs.StringVar(&c.client, "client", clientRaw, "the load generator: raw (Streamable HTTP by hand, light) or go-sdk (the go-sdk client)")
	fs.BoolVar(&c.goSDKStdio, "go-sdk-stdio", true, "with -client raw: also measure the stdio targets with the go-sdk client (a table of its own)")
	targets := fs.String("targets", "all", "comma-separated targets: echo, supergateway, mcp-proxy, caddy-mcp-stdio, caddy-mcp-stdio-noobserve, caddy-mcp-stdio-rules, caddy-mcp-stdio-console, caddy-mcp-federated, caddy-mcp-http, caddy-mcp-http2, caddy-mcp-http-record, reverse_proxy; with -baseline also caddy-mcp-stdio-baseline, caddy-mcp-http-baseline")
	fs.IntVar(&c.listCalls, "list-calls", 100, "tools/list requests, one at a time on one session, per target and round after its load, for their p50 (0 skips them)")
	fs.IntVar(&c.startup, "startup", 20, "new sessions per time-to-first-response measurement (0 skips it)")
	fs.IntVar(&c.idleSessions, "idle-sessions", 2000, "idle sessions for the heap-per-session measurement (0 skips it; at most 10000)")
	fs.IntVar(&c.sseStreams, "sse-streams", 1000, "concurrent SSE GET streams for the stream measurement (0 skips it; at most 2000)")
	fs.DurationVar(&c.sseHold, "sse-hold", 3*time.Second, "how long the SSE streams are held open")
	answers := fs.String("http-answers", "both", "how the HTTP echo server answers POSTs: sse, json, or both (HTTP targets run once per mode)")
	fs.StringVar(&c.out, "out", "", "also write DIR/bench.md and DIR/bench.svg")
	fs.StringVar(&c.caddyBin, "caddy", "", "use this Caddy binary instead of building ./cmd/caddy")
	fs.StringVar(&c.node, "node", "node", "the Node binary that runs supergateway")
	fs.BoolVar(&c.keep, "keep", false, "keep the temp dir (binaries, Caddyfiles, process logs)")
	addBaselineFlags(fs, &c)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	switch {
	case c.duration <= 0 || c.duration > maxDuration:
		return c, fmt.Errorf("-duration must be in (0, %v]", maxDuration)
	case c.warmup < 0 || c.warmup > maxDuration:
		return c, fmt.Errorf("-warmup must be in [0, %v]", maxDuration)
	case c.rounds < 1 || c.rounds > 10 || c.duration/time.Duration(max(c.rounds, 1)) < 100*time.Millisecond:
		return c, errors.New("-rounds must be in [1, 10], with at least 100ms of -duration per round")
	case c.sessions < 1 || c.sessions > maxSessions:
		return c, fmt.Errorf("-sessions must be in [1, %d]", maxSessions)
	case c.listCalls < 0 || c.listCalls > 10000:
		return c, errors.New("-list-calls must be in [0, 10000]")
	case c.startup < 0 || c.startup > 1000:
		return c, errors.New("-startup must be in [0, 1000]")
	case c.idleSessions < 0 || c.idleSessions > maxIdleSessions:
		return c, fmt.Errorf("-idle-sessions must be in [0, %d]", maxIdleSessions)
	case c.sseStreams < 0 || c.sseStreams > maxSSEStreams:
		return c, fmt.Errorf("-sse-streams must be in [0, %d]", maxSSEStreams)
	case c.sseHold < 0 || c.sseHold > time.Minute:
		return c, errors.New("-sse-hold must be in [0, 1m]")
	}
	if c.client != clientRaw && c.client != clientGoSDK {
		return c, fmt.Errorf("-client must be %s or %s, not %q", clientRaw, clientGoSDK, c.client)
	}
	switch strings.ToLower(*answers) {
	case "sse":
		c.answers = []string{answersSSE}
	case "json":
		c.answers = []string{answersJSON}
	case "both":
		c.answers = []string{answersSSE, answersJSON}
	default:
		return c, fmt.Errorf("-http-answers must be sse, json or both, not %q", *answers)
	}
	if *targets == "all" {
		for _, t := range allTargets {
			c.targets = append(c.targets, t.Name)
		}
	} else {
		for _, name := range strings.Split(*targets, ",") {
			name = strings.TrimSpace(name)
			if _, ok := findTarget(name); !ok {
				return c, fmt.Errorf("unknown target %q", name)
			}
			if !slices.Contains(c.targets, name) {
				c.targets = append(c.targets, name)
			}
		}
	}
	c.args = args
	return c, applyBaseline(&c, *targets == "all")
}

// bench is one run.
type bench struct {
	cfg      config
	lab      *lab
	root     string
	caddyBin string
	echoBin  string
	// noObserveBin is Caddy built with the tag caddymcp_noobserve, for
	// targetNoObserve ("" unless wanted).
	noObserveBin string
	baselineBin  string // -baseline, absolute
	sgScript     string // supergateway's dist/index.js, "" when missing
	sgMissing    string // why it is missing
	mpScript     string // mcp-proxy's command-line script, "" when missing
	mpMissing    string // why it is missing
	mpNode       string // the Node that runs mcp-proxy
	echoJSON     bool   // the HTTP echo server started next answers with JSON
	started      time.Time
	stderr       io.Writer
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.stderr, "[bench %5.1fs] %s\n", time.Since(b.started).Seconds(), fmt.Sprintf(format, args...))
}

func (b *bench) wants(name string) bool { return slices.Contains(b.cfg.targets, name) }

// results is everything a run measured.
type results struct {
	Cfg       config
	Machine   machineInfo
	Load      []loadResult
	SDKLoad   []loadResult // the stdio targets again, with the go-sdk client (-go-sdk-stdio)
	Startup   []startupResult
	Idle, SSE *memResult
	Leftovers []string
	Problems  []string // what kept a part from being measured
	Elapsed   time.Duration
}

// failed tells whether a part could not be measured, a call failed, or a
// process was left over.
func (r *results) failed() bool {
	if len(r.Problems) > 0 || len(r.Leftovers) > 0 {
		return true
	}
	for _, l := range append(slices.Clone(r.Load), r.SDKLoad...) {
		if l.Err != "" || l.Errors > 0 || l.Calls == 0 {
			return true
		}
	}
	for _, s := range r.Startup {
		if s.Errors > 0 {
			return true
		}
	}
	for _, m := range []*memResult{r.Idle, r.SSE} {
		if m != nil && (m.Errors > 0 || m.Opened != m.N || (m.Hold > 0 && m.StillOpen != m.Opened)) {
			return true
		}
	}
	return false
}

// run is the whole program.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (*results, error) {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return nil, err
	}
	b := &bench{cfg: cfg, started: time.Now(), stderr: stderr}
	res := &results{Cfg: cfg}
	if b.root, err = moduleRoot(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "caddy-mcp-bench-")
	if err != nil {
		return nil, err
	}
	if cfg.keep {
		defer b.logf("kept %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	b.lab = &lab{dir: dir, logf: b.logf}
	defer b.lab.stopAll()

	if err := b.buildBinaries(ctx, dir); err != nil {
		return nil, err
	}
	res.Machine = b.machine(ctx)

	b.measure(ctx, res)

	// Stop everything, then look for processes of ours that outlived it.
	b.lab.stopAll()
	res.Leftovers = leftovers(5*time.Second, b.echoBin, b.caddyBin, b.noObserveBin, b.baselineBin)
	if ctx.Err() != nil {
		res.Problems = append(res.Problems, "interrupted")
	}
	res.Elapsed = time.Since(b.started)

	if err := b.writeReport(res, stdout); err != nil {
		return res, err
	}
	b.logf("done in %v", res.Elapsed.Round(time.Second))
	return res, nil
}

// buildBinaries builds the echo server and Caddy (unless -caddy names one)
// into dir, and finds supergateway and mcp-proxy when a target wants them.
func (b *bench) buildBinaries(ctx context.Context, dir string) error {
	var err error
	b.echoBin = filepath.Join(dir, "echoserver")
	b.logf("building the echo server")
	if err := goBuild(ctx, b.root, b.echoBin, "./caddytest/bench/echoserver"); err != nil {
		return err
	}
	if b.cfg.caddyBin != "" {
		if b.caddyBin, err = filepath.Abs(b.cfg.caddyBin); err != nil {
			return err
		}
	} else {
		b.caddyBin = filepath.Join(dir, "caddy")
		b.logf("building Caddy with caddy-mcp (./cmd/caddy)")
		if err := goBuild(ctx, b.root, b.caddyBin, "./cmd/caddy"); err != nil {
			return err
		}
	}
	if b.cfg.baselineBin != "" {
		if b.baselineBin, err = filepath.Abs(b.cfg.baselineBin); err != nil {
			return err
		}
	}
	if err := b.buildNoObserve(ctx, dir); err != nil {
		return err
	}
	if b.wants(targetSG) {
		b.findSupergateway()
		if b.sgScript == "" {
			return fmt.Errorf("target supergateway: %s (or leave it out: -targets echo,caddy-mcp-stdio,...)", b.sgMissing)
		}
	}
	if b.wants(targetMCPProxy) {
		b.findMCPProxy()
		if b.mpScript == "" {
			return fmt.Errorf("target mcp-proxy: %s (or leave it out: -targets echo,caddy-mcp-stdio,...)", b.mpMissing)
		}
	}
	return nil
}

// measure runs every part asked for — the load, one target at a time round
// after round, then time to first response and memory — into res; a part
// that fails is noted in res.Problems.
func (b *bench) measure(ctx context.Context, res *results) {
	// Load, one target at a time, round after round.
	res.Load = b.runPlan(ctx, b.plan(), res)
	if b.cfg.goSDKStdio && b.cfg.client != clientGoSDK && ctx.Err() == nil {
		var stdio []planItem
		for _, item := range b.plan() {
			if item.target.Upstream == "stdio" {
				item.client = clientGoSDK
				stdio = append(stdio, item)
			}
		}
		res.SDKLoad = b.runPlan(ctx, stdio, res)
	}
	b.echoJSON = b.cfg.answers[0] == answersJSON

	if b.cfg.startup > 0 && ctx.Err() == nil {
		b.logf("time to first response: %d new sessions per path", b.cfg.startup)
		s, err := b.runStartup(ctx)
		res.Startup = s
		if err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("time to first response: %v", err))
		}
	}
	if (b.cfg.idleSessions > 0 || b.cfg.sseStreams > 0) && ctx.Err() == nil {
		b.logf("memory: %d idle sessions, %d SSE streams", b.cfg.idleSessions, b.cfg.sseStreams)
		idle, sse, err := b.runMemory(ctx)
		res.Idle, res.SSE = idle, sse
		if err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("memory: %v", err))
		}
	}
}

// writeReport prints the report and, with -out, writes it and the chart.
func (b *bench) writeReport(res *results, stdout io.Writer) error {
	md := markdown(res)
	fmt.Fprint(stdout, md)
	if b.cfg.out != "" {
		if err := os.MkdirAll(b.cfg.out, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(b.cfg.out, "bench.md"), []byte(md), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(b.cfg.out, "bench.svg"), []byte(chartSVG(res)), 0o644); err != nil {
			return err
		}
		b.logf("wrote %s and %s", filepath.Join(b.cfg.out, "bench.md"), filepath.Join(b.cfg.out, "bench.svg"))
	}
	return nil
}

// findSupergateway locates supergateway in caddytest/node_modules and Node.
func (b *bench) findSupergateway() {
	b.sgScript, b.sgMissing = b.nodeScript("supergateway", "dist", "index.js")
}

// nodeScript returns the path of a package's script under
// caddytest/node_modules, with Node found (b.cfg.node becomes its path), or
// "" and why not.
func (b *bench) nodeScript(path ...string) (script, missing string) {
	script = filepath.Join(append([]string{b.root, "caddytest", "node_modules"}, path...)...)
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Sprintf("%v: run `npm ci` in caddytest/ (./test.sh does)", err)
	}
	node, err := exec.LookPath(b.cfg.node)
	if err != nil {
		return "", fmt.Sprintf("node: %v", err)
	}
	b.cfg.node = node
	return script, ""
}

// machineInfo describes where the numbers come from.
type machineInfo struct {
	CPU, Memory, Kernel, Go, Caddy, Node string
	MCPProxyNode                         string // the Node that ran mcp-proxy
	Cores                                int
}

func (b *bench) machine(ctx context.Context) machineInfo {
	m := machineInfo{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb uint64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
				m.Memory = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(data))
	}
	first := func(name string, args ...string) string {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, name, args...).Output()
		if err != nil {
			return ""
		}
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return line
	}
	if v := first(b.caddyBin, "version"); v != "" {
		m.Caddy, _, _ = strings.Cut(v, " ")
	}
	if b.sgScript != "" {
		m.Node = first(b.cfg.node, "--version")
	}
	if b.mpScript != "" {
		m.MCPProxyNode = first(b.mpNode, "--version")
	}
	return m
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C ends the benchmark at once
	}()
	res, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if res.failed() {
		fmt.Fprintln(os.Stderr, "bench: some measurements failed or had errors (see the report)")
		os.Exit(1)
	}
}
