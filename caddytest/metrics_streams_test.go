package caddytest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// waitSeries scrapes until every series has its wanted rise over before
// (bounded), and fails naming those that did not.
func waitSeries(t *testing.T, what string, before map[string]float64, want map[string]float64) map[string]float64 {
	t.Helper()
	var m map[string]float64
	var wrong []string
	if !poll(10*time.Second, func() bool {
		m, wrong = scrape(t), nil
		for s, w := range want {
			if got := m[s] - before[s]; got != w {
				wrong = append(wrong, fmt.Sprintf("%s rose by %v, want %v", s, got, w))
			}
		}
		return len(wrong) == 0
	}) {
		t.Fatalf("%s:\n%s", what, strings.Join(wrong, "\n"))
	}
	return m
}

// TestMetricsStreamsAndStateless: through a real Caddy to the go-sdk
// everything-server over stdio, the open-streams gauge follows the
// streams a client holds open by kind (a 2025-11-25 GET stream, a
// 2024-11-05 SSE stream, a 2026-07-28 subscriptions/listen stream) back to
// where it was once they close; 2026-07-28 tool calls count in
// requests_total (with the error outcome) and tool_calls_total as the
// sessions' do; and the processes of the two sessions, once ended, count
// as exits of cause released.
func TestMetricsStreamsAndStateless(t *testing.T) {
	requireIntegration(t)
	// protocol modern: no era probe, whose throwaway process would count
	// as one more exit, at a time of its own.
	url := startProxy(t, fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		name metrics-test
		stdio %s {
			protocol modern
		}
	}
}
`, caddyfileQuote(buildEverythingServer(t)))) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var (
		getStreams    = series("caddy_mcp_streams", `kind="get"`)
		legacyStreams = series("caddy_mcp_streams", `kind="sse_2024"`)
		listenStreams = series("caddy_mcp_streams", `kind="listen"`)
		released      = series("caddy_mcp_process_exits_total", `cause="released"`)
		crashed       = series("caddy_mcp_process_exits_total", `cause="crashed"`)
		callsOK       = series("caddy_mcp_requests_total", `method="tools/call",outcome="ok"`)
		callsFailed   = series("caddy_mcp_requests_total", `method="tools/call",outcome="error"`)
		toolOK        = series("caddy_mcp_tool_calls_total", `outcome="ok",server="",tool="test_simple_text"`)
		unknownFailed = series("caddy_mcp_tool_calls_total", `outcome="error",server="",tool="other"`)
	)
	before := scrape(t)

	// One stream of each long kind.
	sid, get := openStreamSession(t, url, "{}")
	get.waitFor(t, "id: 0_0", 10*time.Second) // the priming event
	resp := rawRequest(t, http.MethodGet, url, "", map[string]string{"Accept": "text/event-stream"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("2024-11-05 SSE stream: %d %s", resp.StatusCode, readAll(t, resp))
	}
	legacyBody := resp.Body
	legacy := readRawStream("2024-11-05 SSE", resp)
	legacy.waitFor(t, "event: endpoint", 10*time.Second)
	listenCtx, endListen := context.WithCancel(ctx)
	defer endListen()
	listenReq, err := http.NewRequestWithContext(listenCtx, http.MethodPost, url, strings.NewReader(
		`{"jsonrpc":"2.0","id":"listen-1","method":"subscriptions/listen","params":{`+
			`"notifications":{"toolsListChanged":true},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",`+
			`"io.modelcontextprotocol/clientCapabilities":{}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
		"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "subscriptions/listen"} {
		listenReq.Header.Set(k, v)
	}
	resp, err = streamClient.Do(listenReq)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("subscriptions/listen: %d %s", resp.StatusCode, readAll(t, resp))
	}
	listen := readRawStream("2026-07-28 subscriptions/listen", resp)
	listen.waitFor(t, "notifications/subscriptions/acknowledged", 20*time.Second)
	waitSeries(t, "with the three streams open", before, map[string]float64{getStreams: 1, legacyStreams: 1, listenStreams: 1})

	// 2026-07-28 calls: the go-sdk client at its default revision.
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "metrics-2026", Version: "0"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: &http.Transport{}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("the go-sdk client negotiated %q, want 2026-07-28", v)
	}
	if _, err := cs.ListTools(ctx, nil); err != nil { // its names become tool labels
		t.Fatal(err)
	}
	const calls = 3
	for i := range calls {
		if err := callSimpleText(ctx, cs); err != nil {
			t.Fatalf("2026 call %d: %v", i, err)
		}
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "no_such_tool"}); err == nil {
		t.Fatal("calling no_such_tool succeeded")
	}
	waitSeries(t, "after the 2026-07-28 calls", before, map[string]float64{
		callsOK: calls, callsFailed: 1, toolOK: calls, unknownFailed: 1,
	})

	// Closing the streams and ending both sessions: the gauge returns,
	// the two sessions' processes exit at the gateway's request.
	endListen()
	legacyBody.Close()
	resp = rawRequest(t, http.MethodDelete, url, "", map[string]string{"Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-11-25"})
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE: %d %s", resp.StatusCode, readAll(t, resp))
	}
	resp.Body.Close()
	waitSeries(t, "after the streams closed and the sessions ended", before, map[string]float64{
		getStreams: 0, legacyStreams: 0, listenStreams: 0, released: 2, crashed: 0,
	})
}

// TestMetricsUpstreamReconnects: an HTTP upstream (the everything-server
// behind a fault injector that ends its first GET streams at once) makes
// the gateway re-open its GET stream; upstream_reconnects_total rises by
// exactly the GETs the upstream saw after the first.
func TestMetricsUpstreamReconnects(t *testing.T) {
	requireIntegration(t)
	target, err := url.Parse(startEverythingServerHTTP(t))
	if err != nil {
		t.Fatal(err)
	}
	const cut = 3
	var gets atomic.Int32
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.FlushInterval = -1
	cutter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && gets.Add(1) <= cut {
			// A stream that ends at once, as a dropped connection does.
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(": cut\n\n"))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	// Closed after the proxy's config is unloaded (cleanups run last
	// first); Close alone would wait for the GET stream the gateway holds.
	t.Cleanup(func() {
		cutter.CloseClientConnections()
		cutter.Close()
	})
	base := startProxy(t, fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		name metrics-test
		http %s
	}
}
`, cutter.URL+target.Path))
	reconnects := series("caddy_mcp_upstream_reconnects_total", `stream="get"`)
	resumes := series("caddy_mcp_upstream_reconnects_total", `stream="resume"`)
	before := scrape(t)

	_, _ = openStreamSession(t, base+"/mcp", "{}") // the unload at the test's end closes it
	if !poll(20*time.Second, func() bool { return gets.Load() > cut }) {
		t.Fatalf("the upstream saw %d GETs, want more than the %d it cut", gets.Load(), cut)
	}
	m := waitSeries(t, "after the upstream cut its GET streams", before, map[string]float64{reconnects: float64(gets.Load() - 1), resumes: 0})
	if n := gets.Load(); m[reconnects]-before[reconnects] != float64(n-1) {
		t.Fatalf("%s rose by %v, but the upstream saw %d GETs (want one less)", reconnects, m[reconnects]-before[reconnects], n)
	}
}
