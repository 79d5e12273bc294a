package caddytest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddytester "github.com/caddyserver/caddy/v2/caddytest"
)

// This file runs the one in-process Caddy that this test binary may have.

// testPorts are the ports of this test binary's Caddy, free when the
// package initialized: each test binary has its own, so that packages and
// binaries run in parallel.
var testPorts = pickFreePorts()

// caddyPorts are the admin, HTTP and HTTPS ports of the in-process Caddy.
type caddyPorts struct{ admin, http, https int }

// pickFreePorts asks the kernel for three distinct loopback ports, holding
// each until all are chosen. When screenshots are taken, the HTTP port is
// 8080 if it is free, so that the pictures in the docs show the endpoint
// names the docs' examples give (localhost:8080/mcp).
func pickFreePorts() caddyPorts {
	var ports [3]int
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if i == 1 && os.Getenv(screenshotDirEnv) != "" {
			if ln8080, err8080 := net.Listen("tcp", "127.0.0.1:8080"); err8080 == nil {
				ln.Close()
				ln = ln8080
			}
		}
		if err != nil {
			panic("caddytest: no free loopback port: " + err.Error())
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return caddyPorts{admin: ports[0], http: ports[1], https: ports[2]}
}

var (
	// siteAddr is the address of every site block of these tests: HTTP on
	// this binary's port (the sites bind it to loopback).
	siteAddr = fmt.Sprintf("http://:%d", testPorts.http)

	// proxyBaseURL is where the sites of these tests listen.
	proxyBaseURL = fmt.Sprintf("http://127.0.0.1:%d", testPorts.http)

	// caddyAdminAddr is the in-process Caddy's admin endpoint; newTester
	// points caddytest at it.
	caddyAdminAddr = fmt.Sprintf("localhost:%d", testPorts.admin)

	// caddyGlobals are the global options that every caddytest config needs:
	// this binary's admin, HTTP and HTTPS ports, no touching of the system
	// trust store, and no waiting at reloads.
	caddyGlobals = fmt.Sprintf(`{
	skip_install_trust
	admin %s
	http_port %d
	https_port %d
	grace_period 1ns
}
`, caddyAdminAddr, testPorts.http, testPorts.https)
)

// TestMain points Caddy's storage at a temporary directory (caddytest
// writes to $XDG_CONFIG_HOME/caddy and $XDG_DATA_HOME/caddy), provides a
// directory for built peer binaries, and stops the in-process Caddy at the
// end so that its modules clean up their child processes.
func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "caddy-mcp-caddytest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "TestMain:", err)
		return 2
	}
	defer os.RemoveAll(tmp)
	for env, sub := range map[string]string{"XDG_CONFIG_HOME": "config", "XDG_DATA_HOME": "data"} {
		dir := filepath.Join(tmp, sub)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			fmt.Fprintln(os.Stderr, "TestMain:", err)
			return 2
		}
		if err := os.Setenv(env, dir); err != nil {
			fmt.Fprintln(os.Stderr, "TestMain:", err)
			return 2
		}
	}
	// Caddy computes these from the environment at package init, before
	// TestMain runs; recompute them as `caddy run --envfile` does.
	caddy.ConfigAutosavePath = filepath.Join(caddy.AppConfigDir(), "autosave.json")
	caddy.DefaultStorage.Path = caddy.AppDataDir()

	// Every request of http.Get and friends goes through the harness's
	// transport, which renews at each config load (conns_test.go). Set
	// before any test or Caddy goroutine reads it.
	http.DefaultClient.Transport = testTransport

	peerBinDir = filepath.Join(tmp, "bin")
	if err := os.MkdirAll(peerBinDir, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, "TestMain:", err)
		return 2
	}

	code := m.Run()

	// A no-op when no test started Caddy.
	if err := caddy.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "TestMain: stopping Caddy:", err)
	}
	return code
}

// strictTB turns caddytest's skips — under -short, or when its in-process
// Caddy cannot start (admin port taken) — into failures when CI is set.
type strictTB struct{ testing.TB }

// SkipNow fails the test in CI and skips it elsewhere.
func (s strictTB) SkipNow() {
	s.TB.Helper()
	if inCI() {
		s.TB.Fatal("caddytest wanted to skip this test (-short?); CI requires it to run")
	}
	s.TB.SkipNow()
}

// Skip fails the test in CI and skips it elsewhere.
func (s strictTB) Skip(args ...any) {
	s.TB.Helper()
	if inCI() {
		s.TB.Fatal(append([]any{"caddytest wanted to skip this test; CI requires it to run:"}, args...)...)
	}
	s.TB.Skip(args...)
}

// Skipf fails the test in CI and skips it elsewhere.
func (s strictTB) Skipf(format string, args ...any) {
	s.TB.Helper()
	if inCI() {
		s.TB.Fatalf("caddytest wanted to skip this test; CI requires it to run: "+format, args...)
	}
	s.TB.Skipf("SKIPPED — "+format, args...)
}

// caddyStarted tells whether this test binary has started its in-process
// Caddy; only startProxy uses it.
var caddyStarted bool

// startProxy loads the globals (caddyGlobals unless withGlobals says
// otherwise) followed by caddyfileBody (one or more site blocks at siteAddr)
// into the test binary's in-process Caddy, starting it on first use, and
// returns proxyBaseURL. Loading another config later is a reload; loading
// the same one again changes nothing. Tests that use it must not run in
// parallel.
func startProxy(t *testing.T, caddyfileBody string, opts ...proxyOption) string {
	t.Helper()
	o := proxyOptions{globals: caddyGlobals}
	for _, opt := range opts {
		opt(&o)
	}
	if o.checkGoroutines {
		// Registered before the unload below, so it runs after it (cleanups
		// run last in, first out) and before the upstream servers the test
		// started earlier close.
		t.Cleanup(func() { waitForNoModuleGoroutines(t, 10*time.Second) })
	}
	return loadProxy(t, o.globals, caddyfileBody)
}

// proxyOptions are startProxy's options.
type proxyOptions struct {
	globals         string
	checkGoroutines bool
}

// proxyOption is one option of startProxy.
type proxyOption func(*proxyOptions)

// withGlobals loads globals instead of caddyGlobals; they must hold
// everything caddyGlobals holds.
func withGlobals(globals string) proxyOption {
	return func(o *proxyOptions) { o.globals = globals }
}

// goroutinesChecked adds a check when the test ends, after its
// configuration is unloaded: no goroutine of the module may be left, such as
// a stream still held to an upstream.
func goroutinesChecked(o *proxyOptions) { o.checkGoroutines = true }

// h2cGlobals are caddyGlobals with cleartext HTTP/2 served beside HTTP/1.1,
// for clients that must see a reload as HTTPS clients do: HTTP/2's GOAWAY
// tells them which requests the old server did not take, and they retry
// those (an HTTP/1.1 keep-alive connection that the old server closes
// under a request just written gives the client an EOF instead).
var h2cGlobals = strings.TrimSuffix(caddyGlobals, "}\n") + "\tservers {\n\t\tprotocols h1 h2c\n\t}\n}\n"

// loadProxy is startProxy with its options applied.
func loadProxy(t *testing.T, globals, caddyfileBody string) string {
	t.Helper()
	requireIntegration(t)
	if !caddyStarted {
		// caddytest uses whatever answers on its admin port: a Caddy
		// started elsewhere (another test binary, a manual run) would get
		// this test's config and serve it with other code.
		if c, err := net.DialTimeout("tcp", caddyAdminAddr, time.Second); err == nil {
			_ = c.Close()
			t.Fatalf("another process already listens on caddytest's admin address %s; stop it (and any other "+
				"Caddy on ports %d/%d) before running these tests", caddyAdminAddr, testPorts.http, testPorts.https)
		}
		caddyStarted = true
	}
	// Unload the test's modules when it ends, so that their sessions and
	// processes do not carry over into the next test. Registered first so
	// that it runs after caddytest's own cleanup, which logs the config of
	// a failed test.
	loaded := false
	t.Cleanup(func() {
		if loaded {
			unloadProxy(t)
		}
	})
	failedBefore := t.Failed()
	// caddytest loads configs with a client on the default transport, and a
	// load restarts the admin server: a kept-alive connection to it is dead.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	tester := newTester(t)
	tester.InitServer(globals+caddyfileBody, "caddyfile")
	// A reload closes the old server's keep-alive connections; a client
	// that reuses one races the close (stock reverse_proxy shows the
	// same). The tests' clients start afresh instead, once the new server
	// answers.
	afterLoad()
	if t.Failed() && !failedBefore {
		t.Fatalf("Caddy did not load the config (see the log above):\n%s%s", globals, caddyfileBody)
	}
	loaded = true
	waitServing(t)
	return proxyBaseURL
}

// unloadProxy loads idleSite: the test's modules, their sessions and
// processes end.
func unloadProxy(t *testing.T) {
	t.Helper()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	newTester(t).InitServer(caddyGlobals+idleSite, "caddyfile")
	afterLoad()
}

// newTester returns caddytest's Tester for this binary's admin port, with
// skips that fail in CI.
func newTester(t testing.TB) *caddytester.Tester {
	return caddytester.NewTester(strictTB{t}).WithDefaultOverrides(caddytester.Config{AdminPort: testPorts.admin})
}

// waitServing waits until the site at proxyBaseURL answers on fresh connections:
// right after a reload a connection may still land on the server being
// shut down and be reset.
func waitServing(t testing.TB) {
	t.Helper()
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var err error
	ok := 0
	if !poll(5*time.Second, func() bool {
		var resp *http.Response
		if resp, err = c.Get(proxyBaseURL + "/caddytest-ready"); err != nil {
			ok = 0
			return false
		}
		resp.Body.Close()
		ok++
		return ok == 2
	}) {
		t.Fatalf("the site on %s does not answer after the reload: %v", proxyBaseURL, err)
	}
}

// idleSite is what the in-process Caddy serves between tests.
var idleSite = siteAddr + ` {
	bind 127.0.0.1
	respond "caddytest: no test config loaded" 503
}
`

// stdioProxySite returns a site block that serves mcp_proxy at /mcp on
// proxyBaseURL in front of the stdio MCP server command. The site
// matches every Host so that the module's own Host/Origin check is what
// the dns-rebinding-protection scenario tests, not Caddy's host matching.
//
// stdioOptions are lines for the stdio block (e.g. "max_processes 64").
func stdioProxySite(command string, stdioOptions ...string) string {
	return proxySite("stdio", command, stdioOptions)
}

// httpProxySite is stdioProxySite for an HTTP upstream at upstreamURL.
func httpProxySite(upstreamURL string, httpOptions ...string) string {
	return proxySite("http", upstreamURL, httpOptions)
}

// proxySite returns the site block of stdioProxySite and httpProxySite: an
// upstream line (kind and target) with options for its block.
func proxySite(kind, target string, options []string) string {
	block := ""
	if len(options) > 0 {
		block = " {\n\t\t\t" + strings.Join(options, "\n\t\t\t") + "\n\t\t}"
	}
	return fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		%s %s%s
	}
}
`, kind, caddyfileQuote(target), block)
}

// caddyfileQuote quotes s, which must not contain a double quote, as one
// Caddyfile token.
func caddyfileQuote(s string) string {
	if strings.Contains(s, `"`) {
		panic("caddyfileQuote: double quote in " + s)
	}
	return `"` + s + `"`
}

// pipelineSite is a site that serves mcp_proxy at /mcp with an upstream
// line and pipeline lines (intercept blocks, filters) inside mcp_proxy.
func pipelineSite(upstream string, lines ...string) string {
	return fmt.Sprintf(siteAddr+" {\n\tbind 127.0.0.1\n\tmcp_proxy /mcp {\n\t\t%s\n\t\t%s\n\t}\n}\n",
		upstream, strings.Join(lines, "\n\t\t"))
}

// codeBlocked is the documented code of a message an intercept rule blocked.
const codeBlocked = -32030
