package main

import (
	"io"
	"slices"
	"strings"
	"testing"
)

// TestBaselineTargets: the *-baseline targets need -baseline, are left out
// of "all" without it, and join the targets they repeat with it.
func TestBaselineTargets(t *testing.T) {
	for _, c := range []struct {
		name    string
		args    []string
		want    []string // among the targets
		notWant []string
		err     string
	}{
		{name: "named without -baseline", args: []string{"-targets", "caddy-mcp-stdio-baseline"}, err: "needs -baseline"},
		{name: "all without -baseline", args: []string{"-targets", "all"}, want: []string{targetMCPStdio, targetMCPHTTP},
			notWant: []string{targetMCPStdioBase, targetMCPHTTPBase}},
		{name: "stdio with -baseline", args: []string{"-targets", "caddy-mcp-stdio", "-baseline", "/bin/caddy-old"},
			want: []string{targetMCPStdio, targetMCPStdioBase}, notWant: []string{targetMCPHTTPBase}},
		{name: "both with -baseline", args: []string{"-targets", "caddy-mcp-http,caddy-mcp-stdio", "-baseline", "x"},
			want: []string{targetMCPStdioBase, targetMCPHTTPBase}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := parseFlags(c.args, io.Discard)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !slices.Contains(cfg.targets, w) {
					t.Errorf("targets %v lack %s", cfg.targets, w)
				}
			}
			for _, w := range c.notWant {
				if slices.Contains(cfg.targets, w) {
					t.Errorf("targets %v hold %s", cfg.targets, w)
				}
			}
		})
	}
}
