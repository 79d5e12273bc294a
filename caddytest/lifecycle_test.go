package caddytest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pool"
)

// mcpPost sends one JSON-RPC message to the endpoint and returns the
// response (body read) — a raw client, so the test sees exactly what the
// wire carries.
func mcpPost(t testing.TB, c *http.Client, url, session, body string) (*http.Response, string) {
	t.Helper()
	version := ""
	if session != "" {
		version = "2025-06-18"
	}
	return mcpPostVersion(t, c, url, session, version, body)
}

// readAll reads and closes a response body.
func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"caddytest","version":"1"}}}`

// openSession initializes a session and returns its id.
func openSession(t testing.TB, c *http.Client, url string) string {
	t.Helper()
	resp, body := mcpPost(t, c, url, "", initializeBody)
	id := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != http.StatusOK || id == "" || !strings.Contains(body, `"protocolVersion":"2025-06-18"`) {
		t.Fatalf("initialize: status %d, session %q, body %s", resp.StatusCode, id, body)
	}
	if resp, body := mcpPost(t, c, url, id, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("initialized: status %d, body %s", resp.StatusCode, body)
	}
	return id
}

// deleteSession ends a session and checks that its id is then unknown.
func deleteSession(t testing.TB, c *http.Client, url, id string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, url, nil)
	req.Header.Set("Mcp-Session-Id", id)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: status %d", resp.StatusCode)
	}
}

// childPIDs lists the live (non-zombie) child processes of this test binary.
func childPIDs(t testing.TB) []int {
	t.Helper()
	self := strconv.Itoa(os.Getpid())
	entries, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		b, err := os.ReadFile(e)
		if err != nil {
			continue // exited meanwhile
		}
		// The command may contain spaces; fields after ") " are fixed.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == self {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(e)))
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitForChildren waits until this binary has at most want children.
func waitForChildren(t testing.TB, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		pids := childPIDs(t)
		if len(pids) <= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d child processes left (want at most %d): %v", len(pids), want, pids)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSessionsLeaveNothingBehind opens and deletes 500 sessions, reloads the
// configuration with a changed and then an unchanged upstream, and checks
// that no child process and no goroutine is left over beyond the configured
// warm spare, and none at all once the endpoint is unloaded.
func TestSessionsLeaveNothingBehind(t *testing.T) {
	server := buildEverythingServer(t)
	url := startProxy(t, idleSite) + "/mcp"
	waitForChildren(t, 0, 10*time.Second)

	// The env is part of what defines a process (warm alone would be applied
	// to the running pool), so site(2) is another upstream than site(1).
	site := func(warm int) string {
		return stdioProxySite(server, "max_processes 8", "warm "+strconv.Itoa(warm), "stop_timeout 2s",
			"env LIFECYCLE_SITE "+strconv.Itoa(warm))
	}
	startProxy(t, site(1))
	c := testClient(30 * time.Second)

	const sessions, workers = 500, 4
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ft := &fatalRecorder{TB: t}
			defer func() {
				if r := recover(); r != nil && r != errFatalRecorded {
					panic(r)
				}
				if ft.err != nil {
					errs <- ft.err
				}
			}()
			for i := w; i < sessions; i += workers {
				id := openSession(ft, c, url)
				resp, body := mcpPost(ft, c, url, id, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
				if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"tools"`) {
					ft.Fatalf("tools/list on session %d: %d %s", i, resp.StatusCode, body)
				}
				deleteSession(ft, c, url, id)
				if resp, _ := mcpPost(ft, c, url, id, `{"jsonrpc":"2.0","id":3,"method":"ping"}`); resp.StatusCode != http.StatusNotFound {
					ft.Fatalf("a deleted session answered %d, want 404", resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Only the warm spare is left.
	waitForChildren(t, 1, 15*time.Second)

	// A session that lives across a reload that keeps the upstream.
	kept := openSession(t, c, url)
	startProxy(t, site(1)+"\n# a comment changes the config text, not the upstream\n")
	// A graceful reload closes idle keep-alive connections; a request could
	// race onto one that is closing (stock reverse_proxy shows the same).
	c.CloseIdleConnections()
	if resp, body := pingAfterReload(t, c, url, kept); resp.StatusCode != http.StatusOK {
		t.Fatalf("after a reload that keeps the upstream the session is gone: %d %s", resp.StatusCode, body)
	}
	// A reload that changes the upstream: the old pool drains.
	startProxy(t, site(2))
	c.CloseIdleConnections()
	other := openSession(t, c, url)
	deleteSession(t, c, url, other)

	// Unload the endpoint: every session and process ends.
	unloadProxy(t)
	waitForChildren(t, 0, 15*time.Second)
	waitForNoModuleGoroutines(t, 10*time.Second)
}

// pingAfterReload pings a session right after a reload. Caddy returns from
// a load once the old servers have begun to shut down, not once they stopped
// accepting (caddyhttp.App.Stop says as much): a new connection can still
// land on the old server and be closed unanswered. A client retries such a
// request; so does this one, twice at most, and only when no response came
// at all.
func pingAfterReload(t *testing.T, c *http.Client, url, session string) (*http.Response, string) {
	t.Helper()
	const body = `{"jsonrpc":"2.0","id":4,"method":"ping"}`
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		resp, err := c.Do(req)
		if err == nil {
			return resp, readAll(t, resp)
		}
		if attempt == 3 {
			t.Fatalf("ping after the reload, attempt %d: %v", attempt, err)
		}
		t.Logf("ping after the reload, attempt %d: %v (no response: retrying on a new connection)", attempt, err)
		c.CloseIdleConnections()
		time.Sleep(50 * time.Millisecond)
	}
}

// errFatalRecorded unwinds a worker goroutine after fatalRecorder.Fatalf.
var errFatalRecorded = fmt.Errorf("fatal recorded")

// fatalRecorder lets helpers that call t.Fatal run on worker goroutines:
// it records the failure and unwinds the goroutine instead of calling
// runtime.Goexit off the test goroutine.
type fatalRecorder struct {
	testing.TB
	err error
}

func (f *fatalRecorder) Fatal(args ...any) {
	f.err = fmt.Errorf("%s", fmt.Sprint(args...))
	panic(errFatalRecorded)
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.err = fmt.Errorf(format, args...)
	panic(errFatalRecorded)
}

func (f *fatalRecorder) Helper() {}

// moduleGoroutines returns the stacks of goroutines running this module's
// code (other than tests). Caddy's own goroutines come and go with every
// config load, so goleak's snapshot comparison cannot tell ours apart;
// any goroutine with a frame in our packages after the endpoint is unloaded
// is a leak.
func moduleGoroutines() []string {
	var buf bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 2)
	var leaks []string
	for _, g := range strings.Split(buf.String(), "\n\n") {
		// The pool's spawner lives as long as the process by design.
		if strings.Contains(g, "github.com/caddy-mcp/caddy-mcp/") && !strings.Contains(g, "caddy-mcp/caddytest.") &&
			!strings.Contains(g, pool.SpawnerFunction+"(") {
			leaks = append(leaks, g)
		}
	}
	return leaks
}

// waitForNoModuleGoroutines fails the test if goroutines of this module are
// still running after within.
func waitForNoModuleGoroutines(t testing.TB, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		leaks := moduleGoroutines()
		if len(leaks) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of caddy-mcp left over:\n%s", len(leaks), strings.Join(leaks, "\n\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
