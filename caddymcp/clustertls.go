package caddymcp

import (
	"errors"
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddytls"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
)

// unmarshalTrustPool reads node_trust_pool <module> ...: a CA pool source
// module, read by its own Caddyfile syntax, as reverse_proxy's
// tls_trust_pool reads it.
func (c *ClusterConfig) unmarshalTrustPool(d *caddyfile.Dispenser) error {
	if c.NodeTrustPool != nil {
		return d.Err("node_trust_pool is set twice")
	}
	if !d.NextArg() {
		return d.Err("node_trust_pool needs a CA pool source, e.g. node_trust_pool file /etc/caddy/cluster-ca.pem, or node_trust_pool pki_root local")
	}
	name := d.Val()
	if _, err := caddy.GetModule(caPoolSources + "." + name); err != nil {
		return d.Errf("node_trust_pool: unknown CA pool source %q (the sources are: %s)", name, strings.Join(caPoolSourceNames(), ", "))
	}
	unm, err := caddyfile.UnmarshalModule(d, caPoolSources+"."+name)
	if err != nil {
		return fmt.Errorf("node_trust_pool %s: %w", name, err) // err names the line
	}
	ca, ok := unm.(caddytls.CA)
	if !ok {
		return d.Errf("node_trust_pool: module %q is not a CA pool source", name)
	}
	c.NodeTrustPool = caddyconfig.JSONModuleObject(ca, "provider", name, nil)
	return nil
}

// caPoolSources is the namespace of Caddy's CA pool source modules.
const caPoolSources = "tls.ca_pool.source"

// caPoolSourceNames are the names of the CA pool sources this Caddy has.
func caPoolSourceNames() []string {
	var names []string
	for _, m := range caddy.GetModules(caPoolSources) {
		names = append(names, m.ID.Name())
	}
	return names
}

// provisionHopTLS loads the cluster's trust pool and resolves its server
// name: how this instance checks the other instances' https node_urls.
func (h *Handler) provisionHopTLS(ctx caddy.Context) (front.HopTLS, error) {
	c := h.Cluster
	var t front.HopTLS
	t.ServerName = caddy.NewReplacer().ReplaceKnown(c.NodeServerName, "")
	if c.NodeTrustPool == nil {
		return t, nil
	}
	mod, err := ctx.LoadModule(c, "NodeTrustPool")
	if err != nil {
		return t, fmt.Errorf("mcp_proxy: cluster node_trust_pool: %v", err)
	}
	ca, ok := mod.(caddytls.CA)
	if !ok {
		return t, fmt.Errorf("mcp_proxy: cluster node_trust_pool: module %T is not a CA pool source", mod)
	}
	if t.RootCAs = ca.CertPool(); t.RootCAs == nil {
		return t, errors.New("mcp_proxy: cluster node_trust_pool: the CA pool source gave no pool")
	}
	return t, nil
}
