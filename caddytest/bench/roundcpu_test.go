package main

import (
	"strings"
	"testing"
	"time"
)

// TestCPURounds: caddy-mcp-stdio's CPU per call against each stdio peer,
// round by round, with the median of the paired ratios (not the ratio of
// the totals); no line for a peer that did not run.
func TestCPURounds(t *testing.T) {
	load := func(name string, cpu ...time.Duration) loadResult {
		l := loadResult{Target: name, Label: name, Upstream: "stdio", Calls: 100, Elapsed: time.Second, Throughput: 100,
			RoundCPUPerCall: cpu, CPUPerCall: cpu[0]}
		for range cpu {
			l.RoundThroughput = append(l.RoundThroughput, 100)
		}
		return l
	}
	us := time.Microsecond
	tests := []struct {
		name  string
		loads []loadResult
		want  []string // nil for no line
	}{
		{"odd rounds", []loadResult{load(targetMCPStdio, 70*us, 90*us, 300*us), load(targetMCPStdioBase, 100*us, 100*us, 100*us)},
			[]string{"round by round: 0.70, 0.90, 3.00; median **0.900×**", "throughput ratios 1.000×", "baseline"}},
		{"even rounds", []loadResult{load(targetMCPStdio, 80*us, 100*us), load(targetSG, 1000*us, 500*us)},
			[]string{"0.08, 0.20; median **0.140×**"}},
		{"every peer", []loadResult{load(targetMCPStdio, 100*us), load(targetMCPStdioBase, 100*us), load(targetSG, 100*us), load(targetMCPProxy, 100*us)},
			[]string{targetMCPStdioBase, targetSG, "**" + targetMCPProxy + "**"}},
		{"no peer", []loadResult{load(targetMCPStdio, 100*us)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := stdioRounds(tt.loads, clientRaw)
			if tt.want == nil {
				if got != "" {
					t.Fatalf("stdioRounds = %q, want no line", got)
				}
				return
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("stdioRounds = %q, want it to contain %q", got, w)
				}
			}
		})
	}
}
