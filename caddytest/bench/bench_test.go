package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// inCI reports whether the tests run under CI (CI set to anything but "",
// "0" or "false"), where a missing peer is a failure, not a skip.
func inCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "0" && !strings.EqualFold(v, "false")
}

// testLogWriter sends what the benchmark logs to the test log.
type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestBenchSmoke runs the whole benchmark with tiny settings against the
// echo server, caddy-mcp over stdio and over HTTP (and supergateway and
// mcp-proxy when caddytest/node_modules has them; CI requires them), and
// checks that every part measured something with no error and left no
// process behind. Its own free ports and temp dirs: it can run beside the
// caddytest package.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Caddy, supergateway and MCP servers")
	}
	targets := []string{targetEcho, targetMCPStdio, targetMCPFederated, targetMCPHTTP}
	sg := filepath.Join("..", "node_modules", "supergateway", "dist", "index.js")
	if _, err := os.Stat(sg); err == nil {
		targets = append(targets, targetSG)
	} else if inCI() {
		t.Fatalf("CI=%s: supergateway is missing (%v): run `npm ci` in caddytest/ (./test.sh does)", os.Getenv("CI"), err)
	} else {
		t.Logf("SKIPPING the supergateway target: %v (run `npm ci` in caddytest/)", err)
	}
	mp := filepath.Join(append([]string{"..", "node_modules"}, mcpProxyScript...)...)
	if _, err := os.Stat(mp); err == nil {
		targets = append(targets, targetMCPProxy)
	} else if inCI() {
		t.Fatalf("CI=%s: mcp-proxy is missing (%v): run `npm ci` in caddytest/ (./test.sh does)", os.Getenv("CI"), err)
	} else {
		t.Logf("SKIPPING the mcp-proxy target: %v (run `npm ci` in caddytest/)", err)
	}

	out := t.TempDir()
	const idle, streams, startup = 50, 20, 3
	args := []string{
		"-duration", "1s", "-rounds", "1", "-warmup", "200ms", "-sessions", "2",
		"-targets", strings.Join(targets, ","),
		"-startup", strconv.Itoa(startup), "-idle-sessions", strconv.Itoa(idle),
		"-sse-streams", strconv.Itoa(streams), "-sse-hold", "500ms",
		"-out", out,
	}
	// A guard against a hang, not a measure: the run, builds included,
	// takes about 40 s alone, and more while other test binaries (the
	// caddytest package runs beside this one) share the two cores.
	const within = 4 * time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	start := time.Now()
	var stdout bytes.Buffer
	res, err := run(ctx, args, &stdout, testLogWriter{t})
	t.Logf("benchmark ran in %v", time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("the benchmark did not finish within %v:\n%s", within, stdout.String())
	}
	defer func() {
		if t.Failed() {
			t.Logf("report:\n%s", stdout.String())
		}
	}()

	// The HTTP targets run once per answer mode (SSE, JSON).
	wantLoad := 0
	for _, name := range targets {
		if tg, _ := findTarget(name); tg.Upstream == "HTTP" {
			wantLoad += 2
		} else {
			wantLoad++
		}
	}
	if len(res.Load) != wantLoad {
		t.Errorf("%d load results, want %d (%v, HTTP ones with SSE and JSON answers)", len(res.Load), wantLoad, targets)
	}
	for _, l := range res.Load {
		if l.P50 <= 0 || l.P99 < l.P50 || l.Throughput <= 0 {
			t.Errorf("%s: implausible figures: %.1f calls/s, p50 %v, p99 %v", l.Label, l.Throughput, l.P50, l.P99)
		}
		if l.ListP50 <= 0 {
			t.Errorf("%s: no tools/list p50", l.Label)
		}
	}
	// The stdio targets again with the go-sdk client.
	if len(res.SDKLoad) != countStdio(targets) {
		t.Errorf("%d go-sdk client rows, want one per stdio target", len(res.SDKLoad))
	}
	for _, l := range append(slices.Clone(res.Load), res.SDKLoad...) {
		if l.Err != "" || l.Calls == 0 || l.Errors != 0 {
			t.Errorf("%s (%s client): %d calls, %d errors %q, err %q; want calls and no error", l.Label, l.Client, l.Calls, l.Errors, l.ErrorSamples, l.Err)
		}
		if l.CPU.Front <= 0 || l.CPU.Load <= 0 {
			t.Errorf("%s (%s client): CPU split %+v, want the front's and the load generator's time", l.Label, l.Client, l.CPU)
		}
	}
	wantStartup := 2 // caddy-mcp warm and cold
	for _, name := range targets {
		if name == targetEcho || name == targetSG {
			wantStartup++
		}
	}
	se := filepath.Join("..", "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js")
	if _, err := os.Stat(se); err == nil {
		wantStartup += 2 // warm and cold server-everything
	} else if inCI() {
		t.Errorf("CI=%s: server-everything is missing (%v)", os.Getenv("CI"), err)
	}
	if len(res.Startup) != wantStartup {
		t.Errorf("%d time-to-first-response rows, want %d", len(res.Startup), wantStartup)
	}
	for _, s := range res.Startup {
		if s.Errors != 0 || s.Mean <= 0 || s.Sessions != startup {
			t.Errorf("time to first response, %s: mean %v, %d errors %q", s.Label, s.Mean, s.Errors, s.ErrorSamples)
		}
	}
	if m := res.Idle; m == nil || m.Opened != idle || m.Errors != 0 || m.After.HeapAlloc == 0 {
		t.Errorf("idle sessions: %+v, want %d opened with no error and a heap figure", m, idle)
	}
	if m := res.SSE; m == nil || m.Opened != streams || m.StillOpen != streams || m.Errors != 0 {
		t.Errorf("SSE streams: %+v, want %d opened and still open, no error", m, streams)
	}
	if len(res.Leftovers) != 0 {
		t.Errorf("processes left over: %v", res.Leftovers)
	}
	if len(res.Problems) != 0 {
		t.Errorf("problems: %v", res.Problems)
	}
	if res.failed() {
		t.Error("the run reports a failure")
	}
	for _, f := range []string{"bench.md", "bench.svg"} {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Error(err)
			continue
		}
		if f == "bench.md" && !strings.Contains(string(b), "| caddy-mcp → stdio | stdio |") {
			t.Errorf("bench.md lacks the caddy-mcp → stdio row:\n%s", b)
		}
		if f == "bench.md" && !strings.Contains(string(b), "tools/list p50, **federated** vs **alone**") {
			t.Errorf("bench.md lacks the federation comparison:\n%s", b)
		}
		if f == "bench.svg" && !strings.HasPrefix(string(b), "<svg") {
			t.Errorf("bench.svg is not an SVG document: %.100s", b)
		}
	}
}

// countStdio counts the targets with a stdio upstream.
func countStdio(targets []string) int {
	n := 0
	for _, name := range targets {
		if tg, _ := findTarget(name); tg.Upstream == "stdio" {
			n++
		}
	}
	return n
}
