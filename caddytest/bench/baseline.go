package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
)

// The baseline: caddy-mcp served by a second Caddy binary (an older build,
// say the commit an issue was filed on), measured in the same run as this
// repository's, taking turns within each round, so that the two builds'
// CPU per call compare like with like on a shared machine.

const (
	targetMCPStdioBase = "caddy-mcp-stdio-baseline"
	targetMCPHTTPBase  = "caddy-mcp-http-baseline"
	baselineSuffix     = "-baseline"
)

// baselineTargets pairs each baseline target with the target it repeats.
var baselineTargets = map[string]string{
	targetMCPStdioBase: targetMCPStdio,
	targetMCPHTTPBase:  targetMCPHTTP,
}

// addBaselineFlags registers -baseline and -profile.
func addBaselineFlags(fs *flag.FlagSet, c *config) {
	fs.StringVar(&c.baselineBin, "baseline", "", "a second Caddy binary with caddy-mcp (an older build): adds the targets "+
		"caddy-mcp-stdio-baseline and caddy-mcp-http-baseline next to caddy-mcp-stdio and caddy-mcp-http, run interleaved with them")
	fs.StringVar(&c.profileDir, "profile", "", "write a CPU and an allocation profile of every Caddy target's measured window of every round into DIR "+
		"(from Caddy's admin /debug/pprof; go tool pprof DIR/<target>-r<round>.cpu.pprof)")
}

// applyBaseline checks the baseline targets against -baseline: without it
// they are dropped from "all" and refused when named; with it each one
// joins the run when the target it repeats does.
func applyBaseline(c *config, all bool) error {
	if c.baselineBin == "" {
		for base := range baselineTargets {
			if !all && slices.Contains(c.targets, base) {
				return fmt.Errorf("target %s needs -baseline BIN", base)
			}
			c.targets = slices.DeleteFunc(c.targets, func(t string) bool { return t == base })
		}
		return nil
	}
	for base, of := range baselineTargets {
		if slices.Contains(c.targets, of) && !slices.Contains(c.targets, base) {
			c.targets = append(c.targets, base)
		}
	}
	return nil
}

// isBaseline tells whether the target named name runs on the baseline
// binary.
func isBaseline(name string) bool { return strings.HasSuffix(name, baselineSuffix) }

func startMCPStdioBaseTarget(ctx context.Context, b *bench) (*running, error) {
	return startMCPStdioTarget(ctx, b, targetMCPStdioBase)
}

func startMCPHTTPBaseTarget(ctx context.Context, b *bench) (*running, error) {
	return startMCPHTTPSite(ctx, b, targetMCPHTTPBase)
}
