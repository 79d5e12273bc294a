package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A target is one thing the load runs against.
type target struct {
	Name     string // flag name
	Label    string // table label
	Upstream string // "stdio" or "HTTP": which baseline it compares with
	start    func(ctx context.Context, b *bench) (*running, error)
}

// running is a started target: its MCP endpoint and the processes to stop.
type running struct {
	URL   string
	Tool  string  // the echo tool's name at URL; "" is echo
	procs []*proc // stopped in reverse order
	caddy *caddyInstance
}

// front is the process the clients talk to (started last).
func (r *running) front() *proc { return r.procs[len(r.procs)-1] }

func (r *running) stop() {
	for i := len(r.procs) - 1; i >= 0; i-- {
		r.procs[i].stop(10 * time.Second)
	}
}

const (
	targetEcho       = "echo"
	targetSG         = "supergateway"
	targetMCPStdio   = "caddy-mcp-stdio"
	targetNoObserve  = "caddy-mcp-stdio-noobserve"
	targetMCPHTTP    = "caddy-mcp-http"
	targetMCPHTTP2   = "caddy-mcp-http2"
	targetRevProxy   = "reverse_proxy"
	baselineStdio    = targetSG
	baselineHTTP     = targetRevProxy
	protocolRevision = "2025-11-25"
	answersSSE       = "SSE"
	answersJSON      = "JSON"
)

// allTargets in table order.
var allTargets = []target{
	{Name: targetEcho, Label: "echo server, direct", Upstream: "HTTP", start: startEchoTarget},
	{Name: targetSG, Label: "supergateway → stdio", Upstream: "stdio", start: startSupergatewayTarget},
	{Name: targetMCPProxy, Label: "npm mcp-proxy → stdio", Upstream: "stdio", start: startMCPProxyTarget},
	{Name: targetMCPStdio, Label: "caddy-mcp → stdio", Upstream: "stdio", start: func(ctx context.Context, b *bench) (*running, error) {
		return startMCPStdioTarget(ctx, b, targetMCPStdio)
	}},
	{Name: targetMCPStdioBase, Label: "caddy-mcp → stdio, baseline build", Upstream: "stdio", start: startMCPStdioBaseTarget},
	{Name: targetNoObserve, Label: "caddy-mcp → stdio, metrics and placeholders off", Upstream: "stdio", start: startNoObserveTarget},
	{Name: targetMCPStdioConsole, Label: "caddy-mcp → stdio, console mounted", Upstream: "stdio", start: startMCPStdioConsoleTarget},
	{Name: targetMCPStdioRules, Label: "caddy-mcp → stdio, 20 rules + filter", Upstream: "stdio", start: startMCPStdioRulesTarget},
	{Name: targetMCPFederated, Label: "caddy-mcp → 3 stdio servers, federated", Upstream: "stdio", start: startMCPFederatedTarget},
	{Name: targetMCPHTTP, Label: "caddy-mcp → HTTP", Upstream: "HTTP", start: startMCPHTTPTarget},
	{Name: targetMCPHTTP2, Label: "caddy-mcp → 2× HTTP (round_robin)", Upstream: "HTTP", start: startMCPHTTP2Target},
	{Name: targetMCPHTTPRecord, Label: "caddy-mcp → HTTP, recorded", Upstream: "HTTP", start: startMCPHTTPRecordTarget},
	{Name: targetMCPHTTPBase, Label: "caddy-mcp → HTTP, baseline build", Upstream: "HTTP", start: startMCPHTTPBaseTarget},
	{Name: targetRevProxy, Label: "Caddy reverse_proxy → HTTP", Upstream: "HTTP", start: startRevProxyTarget},
}

func findTarget(name string) (target, bool) {
	for _, t := range allTargets {
		if t.Name == name {
			return t, true
		}
	}
	return target{}, false
}

// startEchoHTTP runs the echo server over Streamable HTTP on a free port.
func (b *bench) startEchoHTTP(ctx context.Context) (*proc, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"-http", addr}
	if b.echoJSON {
		args = append(args, "-json")
	}
	p, err := b.lab.start("echo-http", nil, false, b.echoBin, args...)
	if err != nil {
		return nil, "", err
	}
	if err := waitListening(ctx, p, addr, 15*time.Second); err != nil {
		p.stop(time.Second)
		return nil, "", err
	}
	return p, "http://" + addr + "/mcp", nil
}

func startEchoTarget(ctx context.Context, b *bench) (*running, error) {
	p, url, err := b.startEchoHTTP(ctx)
	if err != nil {
		return nil, err
	}
	return &running{URL: url, procs: []*proc{p}}, nil
}

func startSupergatewayTarget(ctx context.Context, b *bench) (*running, error) {
	if b.sgScript == "" {
		return nil, fmt.Errorf("supergateway not found: %s", b.sgMissing)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	// supergateway runs the command through `sh -c`, one child per
	// session; it listens on all interfaces (it has no bind option), which
	// is acceptable only because nothing outside this machine reaches it.
	// --logLevel none: at the default (info) it logs every message, which
	// would slow it down for no one's benefit. It exits when its stdin
	// closes, so stdin stays a pipe that stop closes.
	p, err := b.lab.start("supergateway", nil, true, b.cfg.node, b.sgScript,
		"--stdio", shellQuote(b.echoBin),
		"--outputTransport", "streamableHttp", "--stateful", "--sessionTimeout", "60000",
		"--port", strconv.Itoa(port), "--streamableHttpPath", "/mcp", "--logLevel", "none")
	if err != nil {
		return nil, err
	}
	if err := waitListening(ctx, p, "127.0.0.1:"+strconv.Itoa(port), 30*time.Second); err != nil {
		p.stop(time.Second)
		return nil, err
	}
	return &running{URL: fmt.Sprintf("http://127.0.0.1:%d/mcp", port), procs: []*proc{p}}, nil
}

// stdioPoolSize is the stdio block for n concurrent sessions: a warm
// spare for each, and room for the spares that replace them.
func stdioPoolSize(n int) string {
	return fmt.Sprintf("max_processes %d\n\t\t\twarm %d", 2*n+4, n)
}

func startMCPStdioTarget(ctx context.Context, b *bench, name string) (*running, error) {
	return startMCPStdioSite(ctx, b, name, "")
}

// startMCPStdioSite is caddy-mcp-stdio's site with extra routes in it.
func startMCPStdioSite(ctx context.Context, b *bench, name, extra string) (*running, error) {
	site := fmt.Sprintf(`	mcp_proxy /mcp {
		name bench-stdio
		stdio %s {
			%s
		}
		max_sessions %d
	}
%s`, caddyQuote(b.echoBin), stdioPoolSize(b.cfg.sessions), b.cfg.sessions*4+100, extra)
	c, err := b.startCaddy(ctx, name, site)
	if err != nil {
		return nil, err
	}
	return &running{URL: c.url("/mcp"), procs: []*proc{c.p}, caddy: c}, nil
}

func startMCPHTTPTarget(ctx context.Context, b *bench) (*running, error) {
	return startMCPHTTPSite(ctx, b, targetMCPHTTP)
}

// startMCPHTTPSite is caddy-mcp in front of the HTTP echo server, on the
// Caddy that startCaddy picks for name.
func startMCPHTTPSite(ctx context.Context, b *bench, name string) (*running, error) {
	ep, url, err := b.startEchoHTTP(ctx)
	if err != nil {
		return nil, err
	}
	site := fmt.Sprintf(`	mcp_proxy /mcp {
		name bench-http
		http %s
		max_sessions %d
	}
`, url, b.cfg.sessions*4+100)
	c, err := b.startCaddy(ctx, name, site)
	if err != nil {
		ep.stop(time.Second)
		return nil, err
	}
	return &running{URL: c.url("/mcp"), procs: []*proc{ep, c.p}, caddy: c}, nil
}

// startMCPHTTP2Target is caddy-mcp in front of two echo servers over
// HTTP, sessions spread round robin: what several upstreams cost.
func startMCPHTTP2Target(ctx context.Context, b *bench) (*running, error) {
	e1, url1, err := b.startEchoHTTP(ctx)
	if err != nil {
		return nil, err
	}
	e2, url2, err := b.startEchoHTTP(ctx)
	if err != nil {
		e1.stop(time.Second)
		return nil, err
	}
	site := fmt.Sprintf(`	mcp_proxy /mcp {
		name bench-http2
		http %s
		http %s
		lb_policy round_robin
		max_sessions %d
	}
`, url1, url2, b.cfg.sessions*4+100)
	c, err := b.startCaddy(ctx, "caddy-mcp-http2", site)
	if err != nil {
		e2.stop(time.Second)
		e1.stop(time.Second)
		return nil, err
	}
	return &running{URL: c.url("/mcp"), procs: []*proc{e1, e2, c.p}, caddy: c}, nil
}

func startRevProxyTarget(ctx context.Context, b *bench) (*running, error) {
	ep, url, err := b.startEchoHTTP(ctx)
	if err != nil {
		return nil, err
	}
	host := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/mcp")
	site := fmt.Sprintf(`	reverse_proxy %s {
		flush_interval -1
	}
`, host)
	c, err := b.startCaddy(ctx, "reverse_proxy", site)
	if err != nil {
		ep.stop(time.Second)
		return nil, err
	}
	return &running{URL: c.url("/mcp"), procs: []*proc{ep, c.p}, caddy: c}, nil
}

// caddyInstance is a Caddy process built from this repository.
type caddyInstance struct {
	p     *proc
	port  int
	admin string // host:port of the admin endpoint
}

func (c *caddyInstance) url(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", c.port, path)
}

// startCaddy runs the repository's Caddy with one site on a free loopback
// port whose body is siteBody, an admin endpoint on another free port
// (never 2019, Caddy's default) and its storage in the lab dir.
func (b *bench) startCaddy(ctx context.Context, name, siteBody string) (*caddyInstance, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	adminPort, err := freePort()
	if err != nil {
		return nil, err
	}
	for adminPort == 2019 || adminPort == port {
		if adminPort, err = freePort(); err != nil {
			return nil, err
		}
	}
	admin := "127.0.0.1:" + strconv.Itoa(adminPort)
	caddyfile := fmt.Sprintf(`{
	admin %s
	auto_https off
	persist_config off
	grace_period 2s
}

http://:%d {
	bind 127.0.0.1
%s}
`, admin, port, siteBody)
	dir, err := os.MkdirTemp(b.lab.dir, "caddy-"+name+"-")
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(caddyfile), 0o644); err != nil {
		return nil, err
	}
	env := []string{"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"), "XDG_DATA_HOME=" + filepath.Join(dir, "data")}
	bin := b.caddyBin
	switch {
	case name == targetNoObserve:
		bin = b.noObserveBin
	case isBaseline(name):
		bin = b.baselineBin
	}
	p, err := b.lab.start(name, env, false, bin, "run", "--config", cfgPath, "--adapter", "caddyfile")
	if err != nil {
		return nil, err
	}
	for _, addr := range []string{admin, "127.0.0.1:" + strconv.Itoa(port)} {
		if err := waitListening(ctx, p, addr, 30*time.Second); err != nil {
			p.stop(2 * time.Second)
			return nil, fmt.Errorf("%w\nCaddyfile:\n%s", err, caddyfile)
		}
	}
	return &caddyInstance{p: p, port: port, admin: admin}, nil
}

// caddyQuote quotes s as one Caddyfile token.
func caddyQuote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

// shellQuote quotes s as one sh word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
