package main

import (
	"context"
	"fmt"
	"strings"
)

// targetMCPStdioRules is caddy-mcp → stdio with a configured pipeline: 20
// intercept rules that do not match the echo calls plus a tools filter
// (issue 13: its calls/s must stay ≥ 0.9× the row without them).
const targetMCPStdioRules = "caddy-mcp-stdio-rules"

// benchRules are 20 rules of every matcher kind, none matching the load's
// echo tool calls, and a tools filter that lets echo through.
func benchRules() string {
	var b strings.Builder
	b.WriteString("\t\ttools {\n\t\t\tdeny rm_* git_push\n\t\t}\n")
	for i := range 20 {
		fmt.Fprintf(&b, "\t\tintercept rule-%d {\n", i)
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "\t\t\tmethod custom/%d/*\n", i)
		case 1:
			fmt.Fprintf(&b, "\t\t\ttool danger_%d_*\n", i)
		case 2:
			b.WriteString("\t\t\tresource file:///secret/*\n")
		case 3:
			b.WriteString("\t\t\ttool read_file\n\t\t\tfield /params/arguments/path ^/etc/\n")
		}
		b.WriteString("\t\t\tdirection both\n\t\t\tblock\n\t\t}\n")
	}
	return b.String()
}

func startMCPStdioRulesTarget(ctx context.Context, b *bench) (*running, error) {
	site := fmt.Sprintf(`	mcp_proxy /mcp {
		name bench-stdio-rules
		stdio %s {
			%s
		}
		max_sessions %d
%s	}
`, caddyQuote(b.echoBin), stdioPoolSize(b.cfg.sessions), b.cfg.sessions*4+100, benchRules())
	c, err := b.startCaddy(ctx, targetMCPStdioRules, site)
	if err != nil {
		return nil, err
	}
	return &running{URL: c.url("/mcp"), procs: []*proc{c.p}, caddy: c}, nil
}
