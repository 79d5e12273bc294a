package caddytest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// metricsEndpointSite serves the everything-server over stdio at /mcp under
// the endpoint name "metrics-test".
func metricsEndpointSite(command string) string {
	return fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		name metrics-test
		stdio %s
	}
}
`, caddyfileQuote(command))
}

// TestMetrics: requests through mcp_proxy show on the admin /metrics as
// the client sent them — tools/call rises by exactly the calls made, with
// as many duration observations, a call of a tool the server lacks counts
// as an error, and tool calls are labelled by the tools the server listed
// (others as other) — and the gauges read at scrape time match the
// sessions open and the processes that serve them.
func TestMetrics(t *testing.T) {
	requireIntegration(t)
	url := startProxy(t, metricsEndpointSite(buildEverythingServer(t))) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	const (
		callsOK       = `caddy_mcp_requests_total{endpoint="metrics-test",method="tools/call",outcome="ok"}`
		callsRefused  = `caddy_mcp_requests_total{endpoint="metrics-test",method="tools/call",outcome="refused"}`
		callsFailed   = `caddy_mcp_requests_total{endpoint="metrics-test",method="tools/call",outcome="error"}`
		toolOK        = `caddy_mcp_tool_calls_total{endpoint="metrics-test",outcome="ok",server="",tool="test_simple_text"}`
		unknownFailed = `caddy_mcp_tool_calls_total{endpoint="metrics-test",outcome="error",server="",tool="other"}`
		callsDuration = `caddy_mcp_request_duration_seconds_count{endpoint="metrics-test",method="tools/call"}`
		initsOK       = `caddy_mcp_requests_total{endpoint="metrics-test",method="initialize",outcome="ok"}`
		sessions      = `caddy_mcp_sessions{endpoint="metrics-test"}`
		assigned      = `caddy_mcp_processes{endpoint="metrics-test",state="assigned"}`
		spawns        = `caddy_mcp_process_spawns_total{endpoint="metrics-test"}`
	)
	before := scrape(t)
	var clients []*mcp.ClientSession
	for range 2 {
		cs, err := connectAbandonable(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer cs.Close()
		clients = append(clients, cs)
	}
	// The tools the server lists become tool labels.
	if _, err := clients[0].ListTools(ctx, nil); err != nil {
		t.Fatal(err)
	}
	const calls = 7
	for i := range calls {
		if err := callSimpleText(ctx, clients[i%2]); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}

	// A tool the server does not have: a JSON-RPC error, and a name the
	// server never listed, so it counts as other.
	if _, err := clients[1].CallTool(ctx, &mcp.CallToolParams{Name: "no_such_tool"}); err == nil {
		t.Fatal("calling no_such_tool succeeded")
	}

	// The handler counts a POST once its answer is written, and a tool
	// call when the observer hears its answer: the client can read the last
	// answer before the counts land, so wait until they all have (or time
	// out), then compare.
	want := []struct {
		series string
		want   float64
	}{
		{callsOK, calls},
		{callsRefused, 0},
		{callsFailed, 1},
		{toolOK, calls},
		{unknownFailed, 1},
		{callsDuration, calls + 1}, // the failed call too
		{initsOK, 2},
	}
	var after map[string]float64
	poll(5*time.Second, func() bool {
		after = scrape(t)
		for _, c := range want {
			if after[c.series]-before[c.series] != c.want {
				return false
			}
		}
		return true
	})
	for _, c := range want {
		if got := after[c.series] - before[c.series]; got != c.want {
			t.Errorf("%s rose by %v, want %v", c.series, got, c.want)
		}
	}
	for _, c := range []struct {
		series string
		want   float64
	}{
		{sessions, 2},
		{assigned, 2},
	} {
		if got, ok := after[c.series]; !ok || got != c.want {
			t.Errorf("%s = %v (present: %v), want %v", c.series, got, ok, c.want)
		}
	}
	if after[spawns] < 2 {
		t.Errorf("%s = %v, want at least the 2 processes serving the sessions", spawns, after[spawns])
	}

	// Ending a session shows at the next scrape.
	if err := clients[0].Close(); err != nil {
		t.Fatal(err)
	}
	var m map[string]float64
	if !poll(10*time.Second, func() bool { m = scrape(t); return m[sessions] == 1 && m[assigned] == 1 }) {
		t.Fatalf("after closing one client: %s = %v, %s = %v, want 1 and 1", sessions, m[sessions], assigned, m[assigned])
	}
}
