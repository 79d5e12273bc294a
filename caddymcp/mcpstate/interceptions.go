package mcpstate

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Interceptions counts what intercept rules did, by endpoint, rule and
// action. Its series are bounded by the configuration: rule names are the
// operator's (unnamed rules are rule-<n>, as the engine names them), the
// actions are the engine's seven.
var Interceptions = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "caddy_mcp", Name: "interceptions_total",
	Help: "Actions intercept rules took, by endpoint, rule (its name, or rule-<n>) and action (block, mock, set, remove, delay, log, pause), counted when a matching rule reaches the action.",
}, []string{"endpoint", "rule", "action"})

// CountInterceptions returns the engine's hook that counts into
// Interceptions for the endpoint.
func CountInterceptions(endpoint string) func(rule, action string) {
	return func(rule, action string) { Interceptions.WithLabelValues(endpoint, rule, action).Inc() }
}
