package caddytest

import (
	"bytes"
	"fmt"
	"net/http"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pool"
)

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
		req.Header = mcpHeader(session, "2025-06-18")
		resp, err := c.Do(req)
		if err == nil {
			return resp, readAll(t, resp)
		}
		if attempt == 3 {
			t.Fatalf("ping after the reload, attempt %d: %v", attempt, err)
		}
		t.Logf("ping after the reload, attempt %d: %v (no response: retrying on a new connection)", attempt, err)
		c.CloseIdleConnections()
		waitServing(t)
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
