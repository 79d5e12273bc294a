package caddytest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// This file runs the built caddy binary as a process of its own, with the
// operator's default grace period (the in-process Caddy of the other tests
// sets grace_period 1ns, which hides what an open stream does to an exit).

const caddyPkg = "github.com/caddy-mcp/caddy-mcp/cmd/caddy"

// caddyBinary is this repository's caddy (./cmd/caddy).
var caddyBinary = &builtBinary{pkg: caddyPkg, name: "caddy", timeout: 10 * time.Minute}

// caddyProcess is a running `caddy run` with its own config, admin
// endpoint and site port.
type caddyProcess struct {
	cmd    *exec.Cmd
	admin  string // host:port
	base   string // http://127.0.0.1:port
	output *syncBuffer
	exited chan struct{} // closed once the process was waited for
	err    error         // Wait's result, set before exited closes
}

// runCaddyProcess runs the built binary as `caddy run` on a Caddyfile of
// its own until the test ends: a global block with the admin endpoint and
// the HTTP port on free loopback addresses, no trust store install, no
// persisted config, then globals; and one site, http://127.0.0.1:<port>,
// whose body is site. env is added to the process's environment. It
// returns once the process started; whether it serves is the caller's to
// wait for (a /ready route of the site, or its first answer).
func runCaddyProcess(t *testing.T, globals, site string, env ...string) *caddyProcess {
	t.Helper()
	httpAddr := freeLoopbackAddr(t)
	_, httpPort, _ := net.SplitHostPort(httpAddr)
	return runCaddyProcessAt(t, freeLoopbackAddr(t), httpAddr, globals,
		fmt.Sprintf("http://127.0.0.1:%s {\n%s}\n", httpPort, site), env...)
}

// runCaddyProcessAt is runCaddyProcess with the admin and HTTP addresses
// given (a restart keeps them) and the sites written whole: they must
// serve on httpAddr's port.
func runCaddyProcessAt(t *testing.T, admin, httpAddr, globals, sites string, env ...string) *caddyProcess {
	t.Helper()
	bin := buildCaddy(t)
	dir := t.TempDir()
	config := caddyfileText(admin, httpAddr, globals, sites)
	file := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &caddyProcess{admin: admin, base: "http://" + httpAddr, output: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "run", "--config", file, "--adapter", "caddyfile")
	p.cmd.Env = append(caddyEnv(dir), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start caddy: %v", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	stopAtCleanup(t, p.cmd, p.exited, "caddy", p.output)
	return p
}

// caddyfileText is the Caddyfile runCaddyProcessAt runs.
func caddyfileText(admin, httpAddr, globals, sites string) string {
	_, httpPort, _ := net.SplitHostPort(httpAddr)
	return fmt.Sprintf("{\n\tadmin %s\n\thttp_port %s\n\tskip_install_trust\n\tpersist_config off\n%s}\n%s",
		admin, httpPort, globals, sites)
}

// startCaddyProcess writes a Caddyfile with an mcp_proxy at /go (the go-sdk
// everything-server over stdio) and one at /node (server-everything over
// stdio), both default blocks, and runs the built binary on it until the
// test ends.
func startCaddyProcess(t *testing.T) *caddyProcess {
	t.Helper()
	requireIntegration(t)
	goServer := buildEverythingServer(t)
	node := node20(t)
	everything := nodeModule(t, "@modelcontextprotocol", "server-everything", "dist", "index.js")
	// No grace_period: the operator's default, which waits for handlers
	// without a bound.
	p := runCaddyProcess(t, "", fmt.Sprintf(`	mcp_proxy /go {
		stdio %s
	}
	mcp_proxy /node {
		stdio %s %s stdio
	}
`, caddyfileQuote(goServer), caddyfileQuote(node), caddyfileQuote(everything)))

	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var err error
	if !poll(30*time.Second, func() bool {
		select {
		case <-p.exited:
			t.Fatalf("caddy exited before serving: %v\n%s", p.err, p.output.String())
		default:
		}
		var resp *http.Response
		if resp, err = c.Get(p.base + "/ready"); err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}) {
		t.Fatalf("caddy not serving %s after 30s: %v\n%s", p.base, err, p.output.String())
	}
	return p
}

// procStat reads the state and parent pid from a /proc/<pid>/stat file.
func procStat(path string) (state, ppid string, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", false
	}
	// The command may contain spaces; the fields after ") " are fixed.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return "", "", false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return "", "", false
	}
	return f[0], f[1], true
}

// rawStream is an SSE response read in the background, line by line.
type rawStream struct {
	name string
	mu   sync.Mutex
	text strings.Builder
	more chan struct{} // signalled after each line
	done chan struct{} // closed at the end of the body
	end  time.Time
}

func readRawStream(name string, resp *http.Response) *rawStream {
	s := &rawStream{name: name, more: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			s.mu.Lock()
			s.text.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			select {
			case s.more <- struct{}{}:
			default:
			}
		}
		s.mu.Lock()
		s.end = time.Now()
		s.mu.Unlock()
	}()
	return s
}

func (s *rawStream) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.text.String()
}

// waitFor waits until the stream's text contains substr.
func (s *rawStream) waitFor(t *testing.T, substr string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for !strings.Contains(s.String(), substr) {
		select {
		case <-s.more:
		case <-s.done:
			if !strings.Contains(s.String(), substr) {
				t.Fatalf("the %s stream ended without %q:\n%s", s.name, substr, s.String())
			}
		case <-deadline:
			t.Fatalf("the %s stream has no %q after %v:\n%s", s.name, substr, within, s.String())
		}
	}
}

// openSessionStream initializes a 2025-11-25 session (declaring roots, so
// that server-everything asks for them and waits for an answer that never
// comes) and opens its standalone GET stream.
func openSessionStream(t *testing.T, url string) *rawStream {
	t.Helper()
	_, st := openStreamSession(t, url, `{"roots":{"listChanged":true}}`)
	return st
}

// openStreamSession initializes a 2025-11-25 session with the client
// capabilities given (a JSON object) and opens its standalone GET stream;
// it returns the session id and the stream.
func openStreamSession(t *testing.T, url, capabilities string) (string, *rawStream) {
	t.Helper()
	post := map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
	resp := rawRequest(t, http.MethodPost, url, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",`+
		`"capabilities":`+capabilities+`,"clientInfo":{"name":"stream-test","version":"0"}}}`, post)
	body := readAll(t, resp)
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != http.StatusOK || sid == "" {
		t.Fatalf("initialize at %s: %d %s", url, resp.StatusCode, body)
	}
	post["Mcp-Session-Id"], post["Mcp-Protocol-Version"] = sid, "2025-11-25"
	if resp := rawRequest(t, http.MethodPost, url, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, post); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("initialized at %s: %d %s", url, resp.StatusCode, readAll(t, resp))
	}
	resp = rawRequest(t, http.MethodGet, url, "", map[string]string{"Accept": "text/event-stream", "Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-11-25"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET stream at %s: %d %s", url, resp.StatusCode, readAll(t, resp))
	}
	return sid, readRawStream("2025-11-25 GET "+url, resp)
}

// openStreams opens every kind of long stream on the process: a 2025-11-25
// GET stream on each endpoint (server-everything's with a roots/list of
// its own pending), a 2024-11-05 SSE stream, and a 2026-07-28
// subscriptions/listen stream.
func openStreams(t *testing.T, p *caddyProcess) []*rawStream {
	t.Helper()
	goGET := openSessionStream(t, p.base+"/go")
	goGET.waitFor(t, "id: 0_0", 10*time.Second) // the priming event
	nodeGET := openSessionStream(t, p.base+"/node")
	nodeGET.waitFor(t, `"roots/list"`, 20*time.Second)

	resp := rawRequest(t, http.MethodGet, p.base+"/go", "", map[string]string{"Accept": "text/event-stream"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("2024-11-05 SSE stream: %d %s", resp.StatusCode, readAll(t, resp))
	}
	legacy := readRawStream("2024-11-05 SSE", resp)
	legacy.waitFor(t, "event: endpoint", 10*time.Second)

	resp = rawRequest(t, http.MethodPost, p.base+"/go", `{"jsonrpc":"2.0","id":"listen-1","method":"subscriptions/listen","params":{`+
		`"notifications":{"toolsListChanged":true},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",`+
		`"io.modelcontextprotocol/clientCapabilities":{}}}}`, map[string]string{
		"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
		"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "subscriptions/listen",
	})
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("subscriptions/listen: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), readAll(t, resp))
	}
	listen := readRawStream("2026-07-28 subscriptions/listen", resp)
	listen.waitFor(t, "notifications/subscriptions/acknowledged", 20*time.Second)
	return []*rawStream{goGET, nodeGET, legacy, listen}
}

// handoffEvent is the last event of a stream the gateway ends while the
// stream lives on: a fresh id (<stream>_<seq>_<n>) and a retry hint.
var handoffEvent = regexp.MustCompile(`id: 0_\d+_\d+\nretry: \d+\ndata: \n\n$`)

// exitBound is how long an exit may take: the child stop sequence
// (close stdin, wait stop_timeout, SIGTERM, wait stop_timeout, SIGKILL; a
// server that holds a request of its own ignores the EOF) plus a couple of
// seconds.
const exitBound = 2*5*time.Second + 3*time.Second

// TestProcessExit: with every kind of long stream open, SIGTERM and
// `caddy stop` each make the caddy process exit within the child stop
// sequence plus a couple of seconds, every child is reaped, and every
// stream ends (the resumable ones with a fresh id and a retry hint).
func TestProcessExit(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(t *testing.T, p *caddyProcess)
	}{
		{"SIGTERM", func(t *testing.T, p *caddyProcess) {
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
		}},
		{"caddy stop", func(t *testing.T, p *caddyProcess) {
			// `caddy stop` returns when the process is gone: the admin
			// endpoint's /stop runs the whole exit and never answers.
			ctx, cancel := context.WithTimeout(context.Background(), exitBound)
			defer cancel()
			out, err := exec.CommandContext(ctx, buildCaddy(t), "stop", "--address", p.admin).CombinedOutput()
			if err != nil {
				t.Fatalf("caddy stop: %v\n%s", err, out)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startCaddyProcess(t)
			streams := openStreams(t, p)
			children := childrenOf(t, p.cmd.Process.Pid)
			killLeftoversAtCleanup(t, children)
			if len(children) < 4 { // a session process per endpoint, the legacy session's, a shared 2026 one, spares
				t.Fatalf("only %d children before the stop: %v", len(children), alive(children))
			}

			start := time.Now()
			tc.stop(t, p)
			select {
			case <-p.exited:
			case <-time.After(exitBound):
				t.Fatalf("caddy still running %v after %s; children: %v", exitBound, tc.name, alive(children))
			}
			took := time.Since(start)
			t.Logf("%s: caddy exited after %v (%v); %d children", tc.name, took.Round(time.Millisecond), p.err, len(children))
			if p.err != nil {
				t.Errorf("caddy exited with %v", p.err)
			}
			if left := alive(children); len(left) > 0 {
				t.Errorf("children left after caddy exited: %v", left)
			}
			for _, s := range streams {
				select {
				case <-s.done:
				case <-time.After(2 * time.Second):
					t.Errorf("the %s stream did not end:\n%s", s.name, s)
					continue
				}
				t.Logf("%s ended %v after the stop", s.name, s.end.Sub(start).Round(time.Millisecond))
			}
			for _, s := range streams[:2] {
				if text := s.String(); !handoffEvent.MatchString(text) {
					t.Errorf("the %s stream ended without a fresh id and a retry hint:\n%s", s.name, text)
				}
			}
		})
	}
}

// TestProcessKilled: a caddy process killed with SIGKILL (nothing of it
// runs any more) leaves none of its direct children running: they get a
// parent-death signal.
func TestProcessKilled(t *testing.T) {
	p := startCaddyProcess(t)
	openSessionStream(t, p.base+"/go").waitFor(t, "id: 0_0", 10*time.Second)
	openSessionStream(t, p.base+"/node").waitFor(t, `"roots/list"`, 20*time.Second)
	children := childrenOf(t, p.cmd.Process.Pid)
	if len(children) < 2 {
		t.Fatalf("only %d children: %v", len(children), alive(children))
	}
	killLeftoversAtCleanup(t, children)
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.exited
	start := time.Now()
	var left []string
	if !poll(5*time.Second, func() bool { left = alive(children); return len(left) == 0 }) {
		t.Fatalf("5s after SIGKILL of caddy, its children still run (no parent-death signal): %v", left)
	}
	t.Logf("all %d children gone %v after caddy died", len(children), time.Since(start).Round(time.Millisecond))
}
