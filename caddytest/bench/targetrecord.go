package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// targetMCPHTTPRecord is caddy-mcp-http with every session recorded to a
// tape: its row against caddy-mcp-http's is the cost of recording.
const targetMCPHTTPRecord = "caddy-mcp-http-record"

func startMCPHTTPRecordTarget(ctx context.Context, b *bench) (*running, error) {
	ep, url, err := b.startEchoHTTP(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(b.lab.dir, "tapes-")
	if err != nil {
		ep.stop(time.Second)
		return nil, err
	}
	site := fmt.Sprintf(`	mcp_proxy /mcp {
		name bench-http-record
		http %s
		max_sessions %d
		record %s
	}
`, url, b.cfg.sessions*4+100, filepath.ToSlash(dir))
	c, err := b.startCaddy(ctx, targetMCPHTTPRecord, site)
	if err != nil {
		ep.stop(time.Second)
		return nil, err
	}
	return &running{URL: c.url("/mcp"), procs: []*proc{ep, c.p}, caddy: c}, nil
}
