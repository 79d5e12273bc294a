// Command caddy is Caddy with the standard modules and caddy-mcp, for
// running the gateway from a checkout: go run ./cmd/caddy run --config Caddyfile.example
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// Caddy's standard modules.
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	// This module.
	_ "github.com/caddy-mcp/caddy-mcp"
)

func main() {
	caddycmd.Main()
}
