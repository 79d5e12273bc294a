package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// targetMCPStdioConsole is caddy-mcp-stdio with the operator's console
// mounted beside the endpoint in the same site: its rounds against
// caddy-mcp-stdio's show what the console costs the MCP request path
// (issue 15: nothing).
const targetMCPStdioConsole = "caddy-mcp-stdio-console"

// consoleRoute is the console as the README mounts it (without auth: the
// bench's site is on loopback).
const consoleRoute = `	handle_path /console/* {
		mcp_console
	}
`

func startMCPStdioConsoleTarget(ctx context.Context, b *bench) (*running, error) {
	r, err := startMCPStdioSite(ctx, b, targetMCPStdioConsole, consoleRoute)
	if err != nil {
		return nil, err
	}
	if err := checkConsole(ctx, r.caddy.url("/console/")); err != nil {
		r.stop()
		return nil, err
	}
	return r, nil
}

// checkConsole makes sure the console answers at url, so that the target
// measures a site that really has it.
func checkConsole(ctx context.Context, url string) error {
	resp, cancel, err := getWithin(ctx, url, 10*time.Second)
	if err != nil {
		return fmt.Errorf("the console of %s: %v", targetMCPStdioConsole, err)
	}
	defer cancel()
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "MCP gateway console") {
		return fmt.Errorf("the console of %s answered %d, not its page", targetMCPStdioConsole, resp.StatusCode)
	}
	return nil
}
