package caddymcp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/seal"
)

// ClusterConfig makes an endpoint one of several instances that serve the
// same MCP service: the session ids it mints are sealed with the cluster
// key (package seal), bound to the endpoint's name and the session's user,
// so that every instance configured with the same name and key accepts
// them and no other endpoint or user does (docs/cluster.md).
type ClusterConfig struct {
	// Keys are the cluster keys, each 32 bytes in base64; placeholders such
	// as {env.MCP_SESSION_KEY} are resolved when the endpoint is
	// provisioned. The first seals, every one opens: to rotate, configure
	// "NEW OLD", then "NEW" once sessions sealed with OLD have ended. The
	// entry "storage" is a key made once and kept in Caddy's storage under
	// mcp/cluster/<name>/key, shared by every instance using that storage.
	Keys []string `json:"keys,omitempty"`
	// NodeURL is how the other instances reach this one: the sessions only
	// this instance can serve (those of stdio upstreams) carry it, and the
	// others forward their requests there. Required with a stdio upstream;
	// placeholders are resolved when the endpoint is provisioned.
	NodeURL string `json:"node_url,omitempty"`
	// NodeTrustPool is the CA pool (a tls.ca_pool.source module: file,
	// inline, storage, pki_root, http, …) the certificates of the other
	// instances' https node_urls are checked against; without it, the
	// system's roots.
	NodeTrustPool json.RawMessage `json:"node_trust_pool,omitempty" caddy:"namespace=tls.ca_pool.source inline_key=provider"`
	// NodeServerName is the name those certificates are checked for (and
	// sent as SNI) in place of each node_url's host: one name the
	// instances' certificates share when node_urls are addresses.
	NodeServerName string `json:"node_server_name,omitempty"`
}

// unmarshalCluster reads a cluster block:
//
//	cluster {
//	    key <base64-32-bytes>|storage...
//	    node_url <url>
//	    node_trust_pool <module> [<args...>] { ... }
//	    node_server_name <name>
//	}
func (h *Handler) unmarshalCluster(d *caddyfile.Dispenser) error {
	if h.Cluster != nil {
		return d.Err("cluster is set twice")
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	// Made here, where d points at the cluster line, so that the error the
	// check after the whole block may return names that line.
	h.clusterNeedsName = d.Err("cluster needs the endpoint's name (name <name>): every instance serving this endpoint configures the same one")
	h.clusterNeedsNode = d.Err(errNeedsNode)
	c := new(ClusterConfig)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "key":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.Err("key needs at least one cluster key (32 bytes, base64), e.g. key {env.MCP_SESSION_KEY}")
			}
			c.Keys = append(c.Keys, args...)
		case "node_url":
			if !d.NextArg() {
				return d.ArgErr()
			}
			c.NodeURL = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		case "node_trust_pool":
			if err := c.unmarshalTrustPool(d); err != nil {
				return err
			}
		case "node_server_name":
			if !d.NextArg() {
				return d.ArgErr()
			}
			c.NodeServerName = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		default:
			return d.Errf("unrecognized cluster subdirective %q", d.Val())
		}
	}
	if len(c.Keys) == 0 {
		return d.Err("cluster needs a key line: key <base64-32-bytes>, e.g. key {env.MCP_SESSION_KEY}")
	}
	h.Cluster = c
	return nil
}

// errNeedsNode is the error for a clustered endpoint with a stdio
// upstream and no node_url.
const errNeedsNode = "cluster needs node_url (how the other instances reach this one) on an endpoint with a stdio upstream: its sessions live with their process on one instance, and the others forward their requests there"

// checkClusterName is run after the whole mcp_proxy block, where name and
// the upstreams may come after cluster.
func (h *Handler) checkClusterName() error {
	if h.Cluster != nil && h.Name == "" {
		return h.clusterNeedsName
	}
	if h.Cluster != nil && h.Cluster.NodeURL == "" && h.hasStdio() {
		return h.clusterNeedsNode
	}
	return nil
}

// hasStdio says whether a session of the endpoint may live on one
// instance only: one of its upstreams, or of its servers' replicas, is a
// stdio command.
func (h *Handler) hasStdio() bool {
	ups := h.Upstreams
	for _, s := range h.Servers {
		ups = append(ups[:len(ups):len(ups)], s.Upstreams...)
	}
	for _, u := range ups {
		if u != nil && u.Stdio != nil {
			return true
		}
	}
	return false
}

// clusterHops forwards the requests of every clustered endpoint of the
// process to their sessions' owners: one connection pool and one memory
// of hop tokens, across endpoints and reloads.
var clusterHops = sync.OnceValue(front.NewHops)

// provisionCluster resolves and checks the cluster keys and node URL. It
// returns nil for an endpoint without a cluster, which then mints its ids
// as a single instance does.
func (h *Handler) provisionCluster(ctx caddy.Context) (*front.Cluster, error) {
	c := h.Cluster
	if c == nil {
		return nil, nil
	}
	if h.Name == "" {
		return nil, errors.New("mcp_proxy: cluster needs the endpoint's name: every instance serving this endpoint configures the same one")
	}
	if len(c.Keys) == 0 {
		return nil, errors.New("mcp_proxy: cluster needs at least one key")
	}
	repl := caddy.NewReplacer()
	keys := make([][]byte, 0, len(c.Keys))
	for i, raw := range c.Keys {
		if raw == keyStorage {
			k, err := storedClusterKey(ctx, ctx.Storage(), h.Name)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
			continue
		}
		v := repl.ReplaceKnown(raw, "")
		if v == "" {
			return nil, fmt.Errorf("mcp_proxy: cluster key %d is empty (is the environment variable it names set?)", i+1)
		}
		k, err := seal.ParseKey(v)
		if err != nil {
			return nil, fmt.Errorf("mcp_proxy: cluster key %d: %v", i+1, err)
		}
		keys = append(keys, k)
	}
	ring, err := seal.NewRing(keys...)
	if err != nil {
		return nil, fmt.Errorf("mcp_proxy: %v", err)
	}
	node := repl.ReplaceKnown(c.NodeURL, "")
	h.nodeURL = node
	if node != "" {
		if err := checkNodeURL(node); err != nil {
			return nil, err
		}
	} else if h.hasStdio() {
		return nil, errors.New("mcp_proxy: " + errNeedsNode)
	}
	hopTLS, err := h.provisionHopTLS(ctx)
	if err != nil {
		return nil, err
	}
	return &front.Cluster{Ring: ring, Endpoint: h.Name, Node: node, Hops: clusterHops(), HopTLS: hopTLS}, nil
}

// checkNodeURL accepts an absolute http or https URL with a host.
func checkNodeURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("mcp_proxy: cluster node_url %q must be an http:// or https:// URL with a host", s)
	}
	return nil
}
