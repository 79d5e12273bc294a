package main

import (
	"cmp"
	"context"
	"fmt"
	"time"
)

// planItem is one row of the load table: a target, for an HTTP upstream
// how the echo server answers, and the load generator ("": -client).
type planItem struct {
	target  target
	answers string
	client  string
}

// runPlan measures every item of plan, round after round, each round
// taking the items in turn — in the plan's order in odd rounds, in reverse
// in even ones, so that no target always runs first (right after the
// previous round's processes stopped) or last — and returns their merged
// results.
func (b *bench) runPlan(ctx context.Context, plan []planItem, res *results) []loadResult {
	merged := make([]loadResult, len(plan))
	for round := 1; round <= b.cfg.rounds && ctx.Err() == nil; round++ {
		for k := range plan {
			if ctx.Err() != nil {
				break
			}
			i := k
			if round%2 == 0 {
				i = len(plan) - 1 - k
			}
			item := plan[i]
			b.echoJSON = item.answers == answersJSON
			lr := b.loadTarget(ctx, item, round, res)
			if round == 1 {
				merged[i] = lr
			} else {
				merged[i].merge(lr)
			}
		}
	}
	var out []loadResult
	for i := range merged {
		if merged[i].Label != "" {
			merged[i].finish()
			out = append(out, merged[i])
		}
	}
	return out
}

// plan orders the load: the stdio targets, then per answer mode the HTTP
// targets (the floor, caddy-mcp, reverse_proxy), so each group sits
// together in the table.
func (b *bench) plan() []planItem {
	var p []planItem
	for _, t := range allTargets {
		if t.Upstream == "stdio" && b.wants(t.Name) {
			p = append(p, planItem{target: t})
		}
	}
	for _, a := range b.cfg.answers {
		for _, t := range allTargets {
			if t.Upstream == "HTTP" && b.wants(t.Name) {
				p = append(p, planItem{target: t, answers: a})
			}
		}
	}
	return p
}

// loadTarget starts t, runs one round of the load against it and stops it.
func (b *bench) loadTarget(ctx context.Context, item planItem, round int, res *results) loadResult {
	cfg := b.cfg
	t, answers, client := item.target, item.answers, cmp.Or(item.client, cfg.client)
	lr := loadResult{Target: t.Name, Label: t.Label, Upstream: t.Upstream, Answers: answers, Sessions: cfg.sessions, Client: client}
	b.logf("%s: starting (round %d of %d, %s client)", lr.name(), round, cfg.rounds, client)
	rt, err := t.start(ctx, b)
	if err != nil {
		lr.Err = err.Error()
		res.Problems = append(res.Problems, fmt.Sprintf("%s did not start: %v", lr.name(), err))
		return lr
	}
	defer rt.stop()
	meter := &cpuMeter{frontPID: rt.front().cmd.Process.Pid}
	window := cfg.duration / time.Duration(cfg.rounds)
	profiled := b.profile(ctx, rt, lr, round, window)
	if rt.caddy != nil {
		meter.admin = rt.caddy.admin
	}
	lr = runLoad(ctx, rt.URL, cmp.Or(rt.Tool, "echo"), client, cfg.sessions, cfg.warmup, window, meter)
	if err := profiled(); err != nil {
		res.Problems = append(res.Problems, err.Error())
	}
	lr.Target, lr.Label, lr.Upstream, lr.Answers = t.Name, t.Label, t.Upstream, answers
	lr.RoundCPUPerCall = []time.Duration{lr.CPUPerCall}
	if cfg.listCalls > 0 && ctx.Err() == nil {
		first, whole, err := listTools(ctx, rt.URL, cfg.listCalls, toolsWanted(t))
		if err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("%s: %v", lr.name(), err))
		}
		lr.listLat, lr.listAll = first, whole
	}
	b.logf("%s: %d calls, %.0f calls/s, p50 %v, p99 %v, CPU/call %v (load %v, rest %v), %.0f allocs/call, %d errors %v", lr.name(), lr.Calls,
		lr.Throughput, lr.P50, lr.P99, lr.CPUPerCall, lr.perCall(lr.CPU.Load), lr.perCall(lr.CPU.Rest), lr.AllocsPerCall, lr.Errors, lr.ErrorSamples)
	return lr
}
