package caddymcp

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/pool"
)

// The figures read from the sessions and pools at scrape time.
var (
	descSessions = prometheus.NewDesc("caddy_mcp_sessions",
		"Live MCP sessions of the endpoint.", []string{"endpoint"}, nil)
	descProcesses = prometheus.NewDesc("caddy_mcp_processes",
		"Stdio server processes of the endpoint by state (live counts every held slot: spare, warming, assigned, stopping).",
		[]string{"endpoint", "state"}, nil)
	descSpawns = prometheus.NewDesc("caddy_mcp_process_spawns_total",
		"Stdio server processes started since the endpoint's pool was made.", []string{"endpoint"}, nil)
	descSpawnFailures = prometheus.NewDesc("caddy_mcp_process_spawn_failures_total",
		"Failed attempts to start a stdio server process.", []string{"endpoint"}, nil)
	descCrashes = prometheus.NewDesc("caddy_mcp_process_crashes_total",
		"Stdio server processes that exited before the gateway asked them to stop.", []string{"endpoint"}, nil)
	descExits = prometheus.NewDesc("caddy_mcp_process_exits_total",
		"Stdio server processes reaped since the endpoint's pool was made, by cause (released: its session ended; surplus: an idle or surplus spare stopped; unready: a spare failed its readiness check; closed: the pool closed; crashed: it exited on its own).",
		[]string{"endpoint", "cause"}, nil)
	descEvictions = prometheus.NewDesc("caddy_mcp_evictions_total",
		"Idle sessions ended to make room under max_sessions or max_sessions_per_client.", []string{"endpoint"}, nil)
)

// stateCollector reports the package-level session stores and process
// pools as they are when scraped, as the admin API does: they outlive any
// one configuration, so no configuration could keep gauges up to date.
type stateCollector struct{}

// Describe implements prometheus.Collector.
func (stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSessions, descProcesses, descSpawns, descSpawnFailures, descCrashes, descExits, descEvictions} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (stateCollector) Collect(ch chan<- prometheus.Metric) {
	for name, e := range mcpstate.StoreEntries() {
		ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(e.Store.Len()), name)
		ch <- prometheus.MustNewConstMetric(descEvictions, prometheus.CounterValue, float64(e.Store.Evicted()), name)
	}
	// A reload that changes an endpoint's command holds its old pool and
	// its new one at once: their figures add up under the one endpoint
	// (a label set collected twice would fail the whole scrape).
	pools := make(map[string]*pool.Stats)
	var order []string
	mcpstate.StdioPools.Range(func(_, val any) bool {
		if p, ok := val.(*mcpstate.StdioEntry); ok {
			st := p.Pool.Stats()
			sum := pools[p.Endpoint]
			if sum == nil {
				sum = new(pool.Stats)
				pools[p.Endpoint] = sum
				order = append(order, p.Endpoint)
			}
			sum.Live += st.Live
			sum.Spares += st.Spares
			sum.Warming += st.Warming
			sum.Assigned += st.Assigned
			sum.Stopping += st.Stopping
			sum.Spawned += st.Spawned
			sum.SpawnFailed += st.SpawnFailed
			sum.Crashed += st.Crashed
			for c, n := range st.Exits {
				sum.Exits[c] += n
			}
		}
		return true
	})
	for _, endpoint := range order {
		st := pools[endpoint]
		for _, s := range []struct {
			state string
			n     int
		}{
			{"live", st.Live}, {"spare", st.Spares}, {"warming", st.Warming},
			{"assigned", st.Assigned}, {"stopping", st.Stopping},
		} {
			ch <- prometheus.MustNewConstMetric(descProcesses, prometheus.GaugeValue, float64(s.n), endpoint, s.state)
		}
		ch <- prometheus.MustNewConstMetric(descSpawns, prometheus.CounterValue, float64(st.Spawned), endpoint)
		ch <- prometheus.MustNewConstMetric(descSpawnFailures, prometheus.CounterValue, float64(st.SpawnFailed), endpoint)
		ch <- prometheus.MustNewConstMetric(descCrashes, prometheus.CounterValue, float64(st.Crashed), endpoint)
		for c, n := range st.Exits {
			ch <- prometheus.MustNewConstMetric(descExits, prometheus.CounterValue, float64(n), endpoint, pool.ExitCause(c).String())
		}
	}
}
