package admin

import (
	"maps"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
)

// TestDescribeInstance: an instance is named by its endpoints' node_url
// (the first endpoint's by name when they differ), else by its host name.
func TestDescribeInstance(t *testing.T) {
	entry := func(nodeURL *string) *mcpstate.StoreEntry {
		e := new(mcpstate.StoreEntry)
		if nodeURL != nil {
			e.NodeURL.Store(nodeURL)
		}
		return e
	}
	none, a, b := "", "http://10.0.0.5:8080", "http://10.0.0.5:9090"
	for _, c := range []struct {
		name     string
		stores   map[string]*mcpstate.StoreEntry
		instance string
		nodeURLs map[string]string
	}{
		{"no endpoint", nil, "gw-0", map[string]string{}},
		{"no cluster", map[string]*mcpstate.StoreEntry{"api": entry(nil), "b": entry(&none)}, "gw-0", map[string]string{}},
		{"one node_url", map[string]*mcpstate.StoreEntry{"api": entry(&a), "plain": entry(&none)}, a, map[string]string{"api": a}},
		{"two node_urls", map[string]*mcpstate.StoreEntry{"zeta": entry(&a), "beta": entry(&b)}, b, map[string]string{"zeta": a, "beta": b}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := describeInstance("gw-0", c.stores)
			if got.Instance != c.instance || got.Hostname != "gw-0" || !maps.Equal(got.NodeURLs, c.nodeURLs) {
				t.Errorf("got %+v, want instance %q, node_urls %v", got, c.instance, c.nodeURLs)
			}
		})
	}
}
