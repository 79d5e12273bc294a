package caddytest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// reloadSession connects a go-sdk client session at 2025-11-25 (one
// process per session) that survives reloads: no standalone GET stream, and
// no kept-alive connection for a reload to close under a request.
func reloadSession(ctx context.Context, t *testing.T, url string) *mcp.ClientSession {
	t.Helper()
	httpClient := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	client := mcp.NewClient(&mcp.Implementation{Name: "caddytest-reload-limits", Version: "0"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint: url, HTTPClient: httpClient, DisableStandaloneSSE: true,
	}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// procReadBytes is what pid has read so far (rchar in /proc/<pid>/io): a
// server's reads are the requests that reached it on stdin.
func procReadBytes(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		t.Fatalf("process %d: %v", pid, err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "rchar:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatalf("process %d: rchar %q", pid, v)
			}
			return n
		}
	}
	t.Fatalf("process %d: no rchar in /proc/%d/io", pid, pid)
	return 0
}

// procEnvValue is the value of key in the environment pid started with.
func procEnvValue(t *testing.T, pid int, key string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatalf("process %d: %v", pid, err)
	}
	for kv := range bytes.SplitSeq(b, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok && k == key {
			return v
		}
	}
	return ""
}

// callReaches calls a tool on cs and checks that the request reached the
// server process pid (it read more of its stdin).
func callReaches(ctx context.Context, t *testing.T, cs *mcp.ClientSession, pid int, when string) {
	t.Helper()
	before := procReadBytes(t, pid)
	if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: toolSimpleText}); got != simpleText {
		t.Fatalf("%s: tools/call answered %q", when, got)
	}
	if after := procReadBytes(t, pid); after <= before {
		t.Fatalf("%s: the call did not reach process %d (it read %d bytes before and after)", when, pid, before)
	}
}

// onlyChild waits until this binary has exactly one child process and
// returns it.
func onlyChild(t *testing.T, what string) int {
	t.Helper()
	waitForChildren(t, 1, 10*time.Second)
	pids := childPIDs(t)
	if len(pids) != 1 {
		t.Fatalf("%s: want one child process, have %v", what, pids)
	}
	return pids[0]
}

// TestReloadKeepsProcessOnLimitChange: with the default stdio block, a
// reload that changes only sizes and timeouts keeps the session on the same
// process, and the new warm applies at once.
func TestReloadKeepsProcessOnLimitChange(t *testing.T) {
	bin := buildEverythingServer(t)
	url := startProxy(t, idleSite) + "/mcp"
	waitForChildren(t, 0, 10*time.Second)

	startProxy(t, stdioProxySite(bin)) // defaults: warm 1, max_processes 16
	spare := onlyChild(t, "the default warm spare")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs := reloadSession(ctx, t, url)
	callReaches(ctx, t, cs, spare, "before the reload") // the session took the spare

	// Every size and timeout of the stdio block and the handler changes.
	tunedStdio := stdioProxySite(bin, "warm 3", "max_processes 5", "idle_timeout 30s", "acquire_timeout 2s",
		"stop_timeout 3s", "spare_check_timeout 20s", "probe_timeout 5s", "shared 3")
	tuned := strings.Replace(tunedStdio, "mcp_proxy /mcp {",
		"mcp_proxy /mcp {\n\t\trequest_timeout 1m\n\t\tmax_message_size 8MiB\n\t\tsession_idle_timeout 1h", 1)
	startProxy(t, tuned)
	callReaches(ctx, t, cs, spare, "after the reload")
	// The session's process and three spares: warm applied to the same pool.
	var pids []int
	if !poll(15*time.Second, func() bool { pids = childPIDs(t); return len(pids) == 4 && slices.Contains(pids, spare) }) {
		t.Fatalf("after raising warm to 3: children %v, want the session's %d and three spares", pids, spare)
	}
	callReaches(ctx, t, cs, spare, "with the new spares up")
}

// TestReloadNewCommandKeepsOldSession: under a fixed name, a reload that
// changes what defines a process (here its env) keeps the old session on
// the old process while a new session gets a process of the new config.
func TestReloadNewCommandKeepsOldSession(t *testing.T) {
	bin := buildEverythingServer(t)
	url := startProxy(t, idleSite) + "/mcp"
	waitForChildren(t, 0, 10*time.Second)

	site := func(mark string) string {
		return strings.Replace(stdioProxySite(bin, "warm 0", "env RELOAD_MARK "+mark),
			"mcp_proxy /mcp {", "mcp_proxy /mcp {\n\t\tname reload-limits", 1)
	}
	startProxy(t, site("one"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	old := reloadSession(ctx, t, url)
	oldPID := onlyChild(t, "the first session's process")
	if got := procEnvValue(t, oldPID, "RELOAD_MARK"); got != "one" {
		t.Fatalf("the first process has RELOAD_MARK=%q", got)
	}
	callReaches(ctx, t, old, oldPID, "before the reload")

	startProxy(t, site("two"))
	callReaches(ctx, t, old, oldPID, "the old session after the reload")

	fresh := reloadSession(ctx, t, url)
	var newPID int
	for _, pid := range childPIDs(t) {
		if pid != oldPID {
			if newPID != 0 {
				t.Fatalf("more than one new process: %v", childPIDs(t))
			}
			newPID = pid
		}
	}
	if newPID == 0 {
		t.Fatalf("the new session has no process of its own: children %v", childPIDs(t))
	}
	if got := procEnvValue(t, newPID, "RELOAD_MARK"); got != "two" {
		t.Fatalf("the new session's process has RELOAD_MARK=%q, want the new config's", got)
	}
	callReaches(ctx, t, fresh, newPID, "the new session")
	callReaches(ctx, t, old, oldPID, "the old session beside the new one")

	// The old session's end stops the old process; the new one stays.
	_ = old.Close()
	waitForChildren(t, 1, 15*time.Second)
	if pids := childPIDs(t); !slices.Equal(pids, []int{newPID}) {
		t.Fatalf("after the old session ended: children %v, want only %d", pids, newPID)
	}
}
