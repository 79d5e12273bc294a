package caddymcp

import (
	"net"
	"net/url"
	"path/filepath"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/upstream/balance"
)

// describe records in e what the admin API and the metrics show of the
// endpoint's upstreams.
func describe(e *mcpstate.StoreEntry, built []*provisionedUpstream, members []*balance.Member) {
	descs := make([]mcpstate.UpstreamDescription, len(built))
	for i, b := range built {
		descs[i] = mcpstate.UpstreamDescription{Name: b.name, Server: b.server, Kind: b.kind, Address: b.address, Pool: b.pool}
		if i < len(members) {
			descs[i].Member = members[i]
		}
	}
	e.Upstreams.Store(&descs)
}

// httpAddress is the scheme, host and port of rawURL, with the scheme's
// default port filled in; the path, query and user info hold secrets as
// often as not and never show. A URL that does not parse shows as "".
func httpAddress(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return u.Scheme + "://" + net.JoinHostPort(u.Hostname(), port)
}

// commandName is the executable's base name: neither its directory (which
// may name a user) nor its arguments show.
func commandName(command string) string {
	if command == "" {
		return ""
	}
	return filepath.Base(command)
}
