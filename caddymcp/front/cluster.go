package front

import "github.com/caddy-mcp/caddy-mcp/seal"

// Cluster makes the endpoint one of several instances serving the same MCP
// service: the session ids it mints are sealed tokens (package seal) bound
// to Endpoint and the session's user, which any instance holding the key
// can open.
type Cluster struct {
	// Ring holds the cluster's keys.
	Ring *seal.Ring
	// Endpoint is the endpoint's name, the same on every instance.
	Endpoint string
}
