package caddytest

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// forceReload loads config (global options and site blocks) into the running Caddy as
// `caddy reload --force` does: with Cache-Control: must-revalidate, so that
// an unchanged config is loaded again instead of being a no-op. The old
// configuration's handlers are cleaned up and its HTTP servers shut down.
func forceReload(t testing.TB, config string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+caddyAdminAddr+"/load", strings.NewReader(config))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	req.Header.Set("Cache-Control", "must-revalidate")
	// The admin server restarts at a load: never reuse a connection to it.
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("forced reload: %v", err)
	}
	body := readAll(t, resp)
	afterLoad()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("forced reload: %d %s", resp.StatusCode, body)
	}
}

// getCounter is a RoundTripper that counts the GET streams the server
// accepted (200): opened without Last-Event-ID, and resumed with it.
type getCounter struct {
	next            http.RoundTripper
	opened, resumed atomic.Int32
}

func (gc *getCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := gc.next.RoundTrip(r)
	if err == nil && r.Method == http.MethodGet && resp.StatusCode == http.StatusOK {
		if r.Header.Get("Last-Event-ID") != "" {
			gc.resumed.Add(1)
		} else {
			gc.opened.Add(1)
		}
	}
	return resp, err
}

// TestReloadUnderLoadRetriesOff: go-sdk clients at 2025-11-25 with retries
// off (MaxRetries -1: any stream the server ends fails the session) and no
// standalone GET stream, several sessions calling tools in loops, across a
// forced reload of the unchanged default stdio config: every session lives
// on and the server processes are the same ones before and after. Over
// HTTP/2 (h2c here, as over HTTPS) no call fails. Over HTTP/1.1 a call can
// fail in the transport — Go's server closes the old server's idle
// keep-alive connections at a reload, and a POST written onto one at that
// moment gets EOF (clients do not retry POSTs) — and such failures are
// counted, not failed; any other failure fails the test.
func TestReloadUnderLoadRetriesOff(t *testing.T) {
	bin := buildEverythingServer(t)
	site := stdioProxySite(bin) // the default stdio block
	t.Run("h2c", func(t *testing.T) {
		h2c := &http.Transport{Protocols: new(http.Protocols)}
		h2c.Protocols.SetUnencryptedHTTP2(true)
		defer h2c.CloseIdleConnections()
		reloadUnderLoad(t, h2cGlobals, site, &http.Client{Transport: h2c}, false)
	})
	t.Run("http1", func(t *testing.T) {
		h1 := &http.Transport{}
		defer h1.CloseIdleConnections()
		reloadUnderLoad(t, caddyGlobals, site, &http.Client{Transport: h1}, true)
	})
}

// reloadUnderLoad is TestReloadUnderLoadRetriesOff over one HTTP client;
// keepAliveRace tolerates (and counts) calls the transport lost to a
// connection the old server closed.
func reloadUnderLoad(t *testing.T, globals, site string, httpClient *http.Client, keepAliveRace bool) {
	url := startProxy(t, site, withGlobals(globals)) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const sessions, callsAround, maxCalls = 8, 100, 5000
	clients := make([]*mcp.ClientSession, sessions)
	for i := range clients {
		client := mcp.NewClient(&mcp.Implementation{Name: fmt.Sprintf("retries-off-%d", i), Version: "0"}, nil)
		cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: httpClient, MaxRetries: -1, DisableStandaloneSSE: true},
			&mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
		if err != nil {
			t.Fatalf("session %d: connect: %v", i, err)
		}
		defer cs.Close()
		if v := cs.InitializeResult().ProtocolVersion; v != "2025-11-25" {
			t.Fatalf("session %d negotiated %q", i, v)
		}
		clients[i] = cs
	}

	// Each worker calls until told to stop (bounded by maxCalls); calls
	// counts its successes, failures every failed call.
	var (
		wg       sync.WaitGroup
		stop     = make(chan struct{})
		calls    = make([]atomic.Int32, sessions)
		failures atomic.Int32
		raced    atomic.Int32 // keepAliveRace: calls lost in the transport
		firstErr atomic.Value
	)
	for i, cs := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < maxCalls; n++ {
				select {
				case <-stop:
					return
				default:
				}
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: toolSimpleText})
				if err == nil && res.IsError {
					err = fmt.Errorf("tool error result %+v", res.Content)
				}
				if err != nil && keepAliveRace && strings.Contains(err.Error(), "rejected by transport") {
					raced.Add(1)
					continue
				}
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Errorf("session %d, call %d: %w", i, n, err))
					continue
				}
				calls[i].Add(1)
			}
		}()
	}
	halt := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer halt()
	awaitCalls := func(min int32, what string) {
		t.Helper()
		for i := range calls {
			pollCtx(ctx, func() bool { return calls[i].Load() >= min || failures.Load() > 0 })
			if calls[i].Load() < min {
				t.Fatalf("%s: session %d made %d calls (%d failed: %v)", what, i, calls[i].Load(), failures.Load(), firstErr.Load())
			}
		}
	}
	awaitCalls(callsAround, "before the reload")
	// The processes that serve the sessions, from the admin API (the pool's
	// spares come and go, so the children as a whole are no measure).
	before := sessionPIDs(t)
	if len(before) < sessions {
		t.Fatalf("%d sessions with a server process for %d clients: %v", len(before), sessions, before)
	}
	atReload := make([]int32, sessions)
	for i := range calls {
		atReload[i] = calls[i].Load()
	}

	forceReload(t, globals+site)

	// Every session carries on: callsAround more calls each.
	for i := range calls {
		pollCtx(ctx, func() bool { return calls[i].Load() >= atReload[i]+callsAround || failures.Load() > 0 })
		if calls[i].Load() < atReload[i]+callsAround {
			t.Fatalf("after the reload: session %d made %d calls (%d failed: %v)", i, calls[i].Load()-atReload[i], failures.Load(), firstErr.Load())
		}
	}
	halt()
	after := sessionPIDs(t)
	var total int32
	for i := range calls {
		total += calls[i].Load()
	}
	lost := ""
	if keepAliveRace {
		lost = fmt.Sprintf(", %d lost in the transport (HTTP/1.1 keep-alive race)", raced.Load())
	}
	t.Logf("%d calls over %d sessions, %d failed%s, across one forced reload; server processes %v before, %v after",
		total, sessions, failures.Load(), lost, before, after)
	if n := failures.Load(); n != 0 {
		t.Errorf("%d calls failed; first: %v", n, firstErr.Load())
	}
	if !maps.Equal(before, after) {
		t.Errorf("the sessions' server processes changed across a reload that kept the config: %v before, %v after", before, after)
	}
	for i, cs := range clients {
		if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: toolSimpleText}); err != nil {
			t.Errorf("session %d after the load: %v", i, err)
		}
	}
}

// TestDefaultClientAcrossReloads: one go-sdk session with default settings
// (standalone GET stream on, 5 retries without progress) across 20 forced
// reloads in a row: each reload ends its GET stream, the client resumes with
// the handoff's fresh id (progress, so its retries never run out), a call
// after each reload succeeds on the same session, and a notification sent
// after the reloads reaches it over the resumed GET stream.
func TestDefaultClientAcrossReloads(t *testing.T) {
	bin := buildEverythingServer(t)
	site := stdioProxySite(bin)
	url := startProxy(t, site) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	gc := &getCounter{next: http.DefaultTransport.(*http.Transport).Clone()}
	changed := make(chan struct{}, 1)
	client := mcp.NewClient(&mcp.Implementation{Name: "default-client", Version: "0"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case changed <- struct{}{}:
			default:
			}
		},
	})
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: gc}},
		&mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	sid := cs.ID()
	if sid == "" {
		t.Fatal("no session id")
	}
	callToolText(ctx, t, cs, &mcp.CallToolParams{Name: toolSimpleText})
	if !pollCtx(ctx, func() bool { return gc.opened.Load() != 0 }) {
		t.Fatal("the client never opened its GET stream")
	}

	const reloads = 20
	for i := 1; i <= reloads; i++ {
		before := gc.opened.Load() + gc.resumed.Load()
		forceReload(t, caddyGlobals+site)
		// The reload ended the GET stream; wait for the client to open it
		// again on the new configuration before the next one.
		if !poll(15*time.Second, func() bool { return gc.opened.Load()+gc.resumed.Load() != before }) {
			t.Fatalf("reload %d: the client did not reconnect its GET stream within 15s (a go-sdk client that "+
				"saw no new event id over MaxRetries reconnects fails its session)", i)
		}
		if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: toolSimpleText}); got == "" {
			t.Fatalf("reload %d: empty answer", i)
		}
		if cs.ID() != sid {
			t.Fatalf("reload %d: session id changed from %s to %s", i, sid, cs.ID())
		}
	}
	t.Logf("%d reloads, %d GET streams opened, %d resumed", reloads, gc.opened.Load(), gc.resumed.Load())
	if n := gc.opened.Load(); n != 1 {
		t.Errorf("the client opened %d GET streams without Last-Event-ID, want 1 (every reconnect a resume)", n)
	}

	// The GET stream is live again: a notification the server sends now
	// (not related to the call that causes it) arrives over it.
	if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: "test_trigger_tool_change"}); got != "tools_list_changed published" {
		t.Fatalf("trigger: %q", got)
	}
	select {
	case <-changed:
	case <-ctx.Done():
		t.Fatal("notifications/tools/list_changed never arrived over the resumed GET stream")
	}
}

// sessionPIDs maps each live session to the pid of its server process, as
// the admin API reports them.
func sessionPIDs(t *testing.T) map[string]int {
	t.Helper()
	var list adminSessionList
	adminGet(t, "/mcp_proxy/sessions?limit=1000", &list)
	pids := make(map[string]int, len(list.Sessions))
	for _, s := range list.Sessions {
		if s.Upstream.PID != 0 {
			pids[s.ID] = s.Upstream.PID
		}
	}
	return pids
}
