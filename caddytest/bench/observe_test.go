package main

import (
	"strings"
	"testing"
	"time"
)

// TestObserveCost: the on/off line gives the median of the rounds' ratios
// (not the ratio of the totals), and nothing without both targets.
func TestObserveCost(t *testing.T) {
	load := func(name string, rounds ...float64) loadResult {
		l := loadResult{Target: name, Label: name, Upstream: "stdio", Calls: 100, Elapsed: time.Second, Throughput: 100,
			P99: time.Millisecond, RoundThroughput: rounds}
		return l
	}
	tests := []struct {
		name  string
		loads []loadResult
		want  string // "" for no line
	}{
		{"odd rounds", []loadResult{load(targetMCPStdio, 90, 100, 300), load(targetNoObserve, 100, 100, 100)}, "median of the 3 rounds' throughput ratios 1.000×"},
		{"even rounds", []loadResult{load(targetMCPStdio, 90, 110), load(targetNoObserve, 100, 100)}, "median of the 2 rounds' throughput ratios 1.000×"},
		{"rounds listed", []loadResult{load(targetMCPStdio, 95), load(targetNoObserve, 100)}, "(rounds: 0.950;"},
		{"no off target", []loadResult{load(targetMCPStdio, 100)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := observeCost(tt.loads, clientRaw)
			if tt.want == "" {
				if got != "" {
					t.Fatalf("observeCost = %q, want no line", got)
				}
				return
			}
			if !strings.Contains(got, tt.want) {
				t.Fatalf("observeCost = %q, want it to contain %q", got, tt.want)
			}
		})
	}
}

// TestConsoleCost: the console line compares the console target with
// caddy-mcp-stdio, by the median of the rounds' ratios.
func TestConsoleCost(t *testing.T) {
	load := func(name string, rounds ...float64) loadResult {
		return loadResult{Target: name, Label: name, Upstream: "stdio", Calls: 100, Elapsed: time.Second, Throughput: 100,
			P99: time.Millisecond, RoundThroughput: rounds}
	}
	got := consoleCost([]loadResult{load(targetMCPStdioConsole, 99, 101, 50), load(targetMCPStdio, 100, 100, 100)}, clientRaw)
	for _, want := range []string{"**console mounted**", "**not mounted**", "median of the 3 rounds' throughput ratios 0.990×", "rounds: 0.990, 1.010, 0.500"} {
		if !strings.Contains(got, want) {
			t.Errorf("consoleCost = %q, want it to contain %q", got, want)
		}
	}
	if got := consoleCost([]loadResult{load(targetMCPStdio, 100)}, clientRaw); got != "" {
		t.Errorf("consoleCost without the console target = %q", got)
	}
}

// TestFederationCost: the federation lines compare the federated target
// with caddy-mcp-stdio by the median of the rounds' ratios, and their
// tools/list p50s.
func TestFederationCost(t *testing.T) {
	load := func(name string, list time.Duration, rounds ...float64) loadResult {
		return loadResult{Target: name, Label: name, Upstream: "stdio", Calls: 100, Elapsed: time.Second, Throughput: 100,
			P99: time.Millisecond, RoundThroughput: rounds, ListP50: list, ListAllP50: 3 * list}
	}
	got := federationCost([]loadResult{load(targetMCPFederated, 1500*time.Microsecond, 90, 110, 50), load(targetMCPStdio, time.Millisecond, 100, 100, 100)}, clientRaw)
	for _, want := range []string{"median of the 3 rounds' throughput ratios 0.900×", "1.50 ms vs 1.00 ms, +0.50 ms", "4.50 ms vs 3.00 ms"} {
		if !strings.Contains(got, want) {
			t.Errorf("federationCost = %q, want it to contain %q", got, want)
		}
	}
	if got := federationCost([]loadResult{load(targetMCPStdio, time.Millisecond, 100)}, clientRaw); got != "" {
		t.Errorf("federationCost without the federated target = %q", got)
	}
}
