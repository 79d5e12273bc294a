package mcpstate

import (
	"github.com/prometheus/client_golang/prometheus"
)

// interceptionsTotal counts what intercept rules did, by endpoint, rule and
// action. Its series are bounded by the configuration: rule names are the
// operator's (unnamed rules are rule-<n>, as the engine names them), the
// actions are the engine's seven.
var interceptionsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "caddy_mcp", Name: "interceptions_total",
	Help: "Actions intercept rules took, by endpoint, rule (its name, or rule-<n>) and action (block, mock, set, remove, delay, log, pause), counted when a matching rule reaches the action.",
}, []string{"endpoint", "rule", "action"})

// interceptionsTooLarge counts the messages a rule could not judge because
// what it reads is larger than max_decode, by endpoint and rule (bounded
// as above).
var interceptionsTooLarge = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "caddy_mcp", Name: "interceptions_too_large_total",
	Help: "Messages an intercept rule could not judge because what it reads is larger than max_decode, so that it applied as if it matched, by endpoint and rule.",
}, []string{"endpoint", "rule"})

// Interceptions is the collector of both counters (mcp_proxy's metrics
// register it).
var Interceptions prometheus.Collector = interceptCollector{}

type interceptCollector struct{}

func (interceptCollector) Describe(ch chan<- *prometheus.Desc) {
	interceptionsTotal.Describe(ch)
	interceptionsTooLarge.Describe(ch)
}

func (interceptCollector) Collect(ch chan<- prometheus.Metric) {
	interceptionsTotal.Collect(ch)
	interceptionsTooLarge.Collect(ch)
}

// CountInterceptions returns the engine's hook that counts into
// interceptionsTotal for the endpoint.
func CountInterceptions(endpoint string) func(rule, action string) {
	return func(rule, action string) { interceptionsTotal.WithLabelValues(endpoint, rule, action).Inc() }
}

// CountTooLarge returns the engine's hook that counts into
// interceptionsTooLarge for the endpoint.
func CountTooLarge(endpoint string) func(rule string) {
	return func(rule string) { interceptionsTooLarge.WithLabelValues(endpoint, rule).Inc() }
}
