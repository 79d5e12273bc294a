package caddymcp

import (
	"github.com/prometheus/client_golang/prometheus"
)

// interceptions counts what intercept rules did, by endpoint, rule and
// action. Its series are bounded by the configuration: rule names are the
// operator's (unnamed rules are rule-<n>, as the engine names them), the
// actions are the engine's seven.
var interceptions = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "caddy_mcp", Name: "interceptions_total",
	Help: "Actions intercept rules took, by endpoint, rule (its name, or rule-<n>) and action (block, mock, set, remove, delay, log, pause), counted when a matching rule reaches the action.",
}, []string{"endpoint", "rule", "action"})

// countInterceptions returns the engine's hook that counts into
// interceptions for the endpoint.
func countInterceptions(endpoint string) func(rule, action string) {
	return func(rule, action string) { interceptions.WithLabelValues(endpoint, rule, action).Inc() }
}
