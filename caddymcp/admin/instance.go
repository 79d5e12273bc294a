package admin

import (
	"maps"
	"net/http"
	"os"
	"slices"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
)

// adminInstancePath is the route that says which instance of a cluster
// answers: each instance's admin API and console show only what that
// instance holds (its sessions, processes, held messages), so an operator
// behind a load balancer needs to know whose they are.
const adminInstancePath = "/mcp_proxy/instance"

// adminInstance is the answer of GET /mcp_proxy/instance.
type adminInstance struct {
	// Instance names this instance: the node_url of its cluster endpoints
	// (the first by endpoint name when they differ), else its host name.
	Instance string `json:"instance"`
	// Hostname is the machine's (a Kubernetes pod's) host name.
	Hostname string `json:"hostname"`
	// NodeURLs are the endpoints that set a node_url, with it.
	NodeURLs map[string]string `json:"node_urls"`
}

// handleInstance serves GET /mcp_proxy/instance.
func handleInstance(w http.ResponseWriter, r *http.Request) error {
	if err := mcphttp.AllowMethods(w, r, http.MethodGet); err != nil {
		return err
	}
	host, _ := os.Hostname()
	return writeJSON(w, http.StatusOK, describeInstance(host, mcpstate.StoreEntries()))
}

// describeInstance names the instance that serves stores on host.
func describeInstance(host string, stores map[string]*mcpstate.StoreEntry) adminInstance {
	in := adminInstance{Hostname: host, NodeURLs: map[string]string{}}
	for _, name := range slices.Sorted(maps.Keys(stores)) {
		u := stores[name].NodeURL.Load()
		if u == nil || *u == "" {
			continue
		}
		in.NodeURLs[name] = *u
		if in.Instance == "" {
			in.Instance = *u
		}
	}
	if in.Instance == "" {
		in.Instance = host
	}
	return in
}
