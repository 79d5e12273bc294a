package caddymcp

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
)

// descUpstreamHealthy is the gauge of each upstream's health: 1 when it
// takes new sessions and requests, 0 when its health check failed or its
// circuit breaker is open. Labels: the endpoint, the upstream's name
// (never its URL or command) and, on a federated endpoint, the server it
// is a replica of ("" otherwise).
var descUpstreamHealthy = prometheus.NewDesc("caddy_mcp_upstream_healthy",
	"Whether the upstream takes new sessions and requests (1) or not (0: its health check failed or its circuit breaker is open).",
	[]string{"endpoint", "upstream", "server"}, nil)

// upstreamHealthCollector reads the gauge at scrape time from the
// endpoints' upstream descriptions.
type upstreamHealthCollector struct{}

// Describe sends the gauge's description.
func (upstreamHealthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descUpstreamHealthy }

// Collect sends each configured upstream's health.
func (upstreamHealthCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	for endpoint, e := range mcpstate.StoreEntries() {
		descs := e.Upstreams.Load()
		if descs == nil {
			continue
		}
		for _, d := range *descs {
			v := 1.0
			if d.Member != nil && !d.Member.Status(now).Healthy {
				v = 0
			}
			ch <- prometheus.MustNewConstMetric(descUpstreamHealthy, prometheus.GaugeValue, v, endpoint, d.Name, d.Server)
		}
	}
}
