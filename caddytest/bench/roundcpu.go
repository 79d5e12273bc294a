package main

import (
	"fmt"
	"slices"
	"strings"
)

// cpuRounds compares a's CPU per call with b's round by round (both run
// in every round, in turn, so each round's pair saw the same machine): each
// round's ratio, their median and the throughput ratios' median. On a
// shared machine a round's figures move by a third either way; the median
// of the paired ratios moves much less than the ratio of the whole runs.
func cpuRounds(loads []loadResult, client, a, b string) string {
	x, y := findIn(loads, a, ""), findIn(loads, b, "")
	if x == nil || y == nil || x.Calls == 0 || y.Calls == 0 {
		return ""
	}
	var cpu, tp []float64
	var parts []string
	for i := range min(len(x.RoundCPUPerCall), len(y.RoundCPUPerCall)) {
		if y.RoundCPUPerCall[i] <= 0 || x.RoundCPUPerCall[i] <= 0 {
			continue
		}
		r := float64(x.RoundCPUPerCall[i]) / float64(y.RoundCPUPerCall[i])
		cpu = append(cpu, r)
		parts = append(parts, fmt.Sprintf("%.2f", r))
		if i < len(x.RoundThroughput) && i < len(y.RoundThroughput) && y.RoundThroughput[i] > 0 {
			tp = append(tp, x.RoundThroughput[i]/y.RoundThroughput[i])
		}
	}
	if len(cpu) == 0 {
		return ""
	}
	return fmt.Sprintf("- CPU per call, **%s** / **%s** (%s client), round by round: %s; median **%.3f×** (whole runs %s); "+
		"median of the rounds' throughput ratios %.3f×.\n", x.name(), y.name(), client, strings.Join(parts, ", "), median(cpu),
		times(float64(x.CPUPerCall)/float64(y.CPUPerCall)), median(tp))
}

// median of xs (0 when empty); xs is sorted in place.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	if len(xs)%2 == 0 {
		return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return xs[len(xs)/2]
}

// stdioRounds is cpuRounds of caddy-mcp-stdio against its baseline build
// and the two Node gateways, where they ran.
func stdioRounds(loads []loadResult, client string) string {
	var sb strings.Builder
	for _, peer := range []string{targetMCPStdioBase, targetSG, targetMCPProxy} {
		sb.WriteString(cpuRounds(loads, client, targetMCPStdio, peer))
	}
	return sb.String()
}
