package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The cost of observing requests: targetNoObserve is caddy-mcp-stdio served
// by a Caddy built with the tag caddymcp_noobserve, which sets no
// {http.mcp.*} placeholders or access-log fields and counts nothing in the
// metrics per request. The same configuration and load on both, taking
// turns within each round, so the ratio of their rounds compares like with
// like on this shared machine.

// noObserveTag is the build tag that turns the per-request observation off.
const noObserveTag = "caddymcp_noobserve"

// buildNoObserve builds the second Caddy when targetNoObserve is wanted.
func (b *bench) buildNoObserve(ctx context.Context, dir string) error {
	if !b.wants(targetNoObserve) {
		return nil
	}
	if b.cfg.caddyBin != "" {
		return fmt.Errorf("target %s builds its own Caddy (-tags %s): leave out -caddy, or the target", targetNoObserve, noObserveTag)
	}
	b.noObserveBin = filepath.Join(dir, "caddy-noobserve")
	b.logf("building Caddy with caddy-mcp, per-request metrics and placeholders off (-tags %s)", noObserveTag)
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", noObserveTag, "-o", b.noObserveBin, "./cmd/caddy")
	cmd.Dir = b.root
	cmd.WaitDelay = 5 * time.Second
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -tags %s ./cmd/caddy: %v\n%s", noObserveTag, err, msg)
	}
	return nil
}

// startNoObserveTarget is startMCPStdioTarget on the Caddy of buildNoObserve
// (startCaddy picks that binary for this target's name).
func startNoObserveTarget(ctx context.Context, b *bench) (*running, error) {
	return startMCPStdioTarget(ctx, b, targetNoObserve)
}

// observeCost reports caddy-mcp-stdio against targetNoObserve: the median
// of the rounds' throughput ratios (each round runs both in turn), and
// each round's.
func observeCost(loads []loadResult, client string) string {
	return pairCost(loads, client, targetMCPStdio, targetNoObserve, "metrics and placeholders on", "off")
}

// consoleCost reports targetMCPStdioConsole against caddy-mcp-stdio as
// observeCost does: what mounting the console costs the MCP request path.
func consoleCost(loads []loadResult, client string) string {
	return pairCost(loads, client, targetMCPStdioConsole, targetMCPStdio, "console mounted", "not mounted")
}

// pairCost compares target on with target off, which ran in turn within
// every round: the median of the rounds' throughput ratios (on/off), each
// round's, and the whole runs' ratios. It is "" unless both ran.
func pairCost(loads []loadResult, client, onTarget, offTarget, onLabel, offLabel string) string {
	on, off := findIn(loads, onTarget, ""), findIn(loads, offTarget, "")
	if on == nil || off == nil || on.Calls == 0 || off.Calls == 0 {
		return ""
	}
	var ratios []float64
	var parts []string
	for i := range min(len(on.RoundThroughput), len(off.RoundThroughput)) {
		if off.RoundThroughput[i] > 0 {
			r := on.RoundThroughput[i] / off.RoundThroughput[i]
			ratios = append(ratios, r)
			parts = append(parts, fmt.Sprintf("%.3f", r))
		}
	}
	if len(ratios) == 0 {
		return ""
	}
	med := median(slices.Clone(ratios))
	cpu := ""
	if on.CPUPerCall > 0 && off.CPUPerCall > 0 {
		cpu = fmt.Sprintf(", CPU per call %s", times(float64(on.CPUPerCall)/float64(off.CPUPerCall)))
	}
	return fmt.Sprintf("- **%s** (%s) vs **%s** (%s, %s client): median of the %d rounds' throughput ratios %.3f× "+
		"(rounds: %s; whole runs: %s, p99 %s%s).\n", onLabel, on.name(), offLabel, off.name(), client, len(ratios), med, strings.Join(parts, ", "),
		times(on.Throughput/off.Throughput), times(float64(on.P99)/float64(off.P99)), cpu)
}
