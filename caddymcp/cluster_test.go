package caddymcp

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-mcp/caddy-mcp/seal"
)

// TestClusterCaddyfile: the cluster block becomes the JSON shape
// "cluster": {"keys": [...], "node_url": "..."}, placeholders kept for
// provisioning; mistakes are refused at the line that has them.
func TestClusterCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		name, input, json, err, at string
	}{
		{
			name: "keys and node_url",
			input: `mcp_proxy {
				name api
				cluster {
					key {env.MCP_SESSION_KEY} {env.MCP_SESSION_KEY_OLD}
					node_url http://10.0.0.5:8080
				}
				http http://127.0.0.1:9/mcp
			}`,
			json: `{"keys":["{env.MCP_SESSION_KEY}","{env.MCP_SESSION_KEY_OLD}"],"node_url":"http://10.0.0.5:8080"}`,
		},
		{
			name: "name after cluster, keys on two lines",
			input: `mcp_proxy {
				cluster {
					key a
					key b
				}
				name api
				http http://127.0.0.1:9/mcp
			}`,
			json: `{"keys":["a","b"]}`,
		},
		{
			name:  "stdio with node_url",
			input: "mcp_proxy {\nname a\nstdio npx server\ncluster {\nkey k\nnode_url http://10.0.0.5:8080\n}\n}",
			json:  `{"keys":["k"],"node_url":"http://10.0.0.5:8080"}`,
		},
		{
			name: "no name",
			input: `mcp_proxy {
				http http://127.0.0.1:9/mcp
				cluster {
					key {env.K}
				}
			}`,
			err: "cluster needs the endpoint's name", at: "at Testfile:3",
		},
		{name: "no key", input: "mcp_proxy {\nname a\ncluster {\nnode_url http://x\n}\nhttp http://y\n}", err: "cluster needs a key line", at: "at Testfile:5"},
		{name: "empty key line", input: "mcp_proxy {\nname a\ncluster {\nkey\n}\nhttp http://y\n}", err: "key needs at least one cluster key", at: "at Testfile:4"},
		{name: "key storage", input: "mcp_proxy {\nname a\ncluster {\nkey storage {env.OLD}\n}\nhttp http://y\n}", json: `{"keys":["storage","{env.OLD}"]}`},
		{name: "twice", input: "mcp_proxy {\nname a\ncluster {\nkey k\n}\ncluster {\nkey k\n}\nhttp http://y\n}", err: "cluster is set twice", at: "at Testfile:6"},
		{name: "unknown setting", input: "mcp_proxy {\nname a\ncluster {\nkey k\nseed x\n}\nhttp http://y\n}", err: `unrecognized cluster subdirective "seed"`, at: "at Testfile:5"},
		{name: "an argument", input: "mcp_proxy {\nname a\ncluster on {\nkey k\n}\nhttp http://y\n}", err: "wrong argument count", at: "at Testfile:3"},
		{name: "stdio without node_url", input: "mcp_proxy {\nname a\ncluster {\nkey k\n}\nstdio npx server\n}", err: "cluster needs node_url", at: "at Testfile:3"},
		{name: "a group with a stdio member, without node_url", input: "mcp_proxy {\nname a\ncluster {\nkey k\n}\nhttp http://y\nstdio npx server\n}", err: "cluster needs node_url", at: "at Testfile:3"},
		{name: "a federated stdio server, without node_url", input: "mcp_proxy {\nname a\ncluster {\nkey k\n}\nserver s {\nstdio npx server\n}\nserver h {\nhttp http://y\n}\n}", err: "cluster needs node_url", at: "at Testfile:3"},
		{name: "node_url twice on a line", input: "mcp_proxy {\nname a\ncluster {\nkey k\nnode_url a b\n}\nhttp http://y\n}", err: "wrong argument count", at: "at Testfile:5"},
		{
			name:  "a trust pool of files and a server name",
			input: "mcp_proxy {\nname a\ncluster {\nkey k\nnode_url https://10.0.0.5:8443\nnode_trust_pool file /etc/caddy/ca.pem\nnode_server_name mcp-node.internal\n}\nhttp http://y\n}",
			json:  `{"keys":["k"],"node_url":"https://10.0.0.5:8443","node_trust_pool":{"pem_files":["/etc/caddy/ca.pem"],"provider":"file"},"node_server_name":"mcp-node.internal"}`,
		},
		{
			name:  "the root of Caddy's local CA, in a block",
			input: "mcp_proxy {\nname a\ncluster {\nkey k\nnode_trust_pool pki_root {\nauthority local\n}\nnode_url https://10.0.0.5:8443\n}\nhttp http://y\n}",
			json:  `{"keys":["k"],"node_url":"https://10.0.0.5:8443","node_trust_pool":{"authority":["local"],"provider":"pki_root"}}`,
		},
		{name: "a trust pool without a source", input: "mcp_proxy {\nname a\ncluster {\nkey k\nnode_trust_pool\n}\nhttp http://y\n}", err: "node_trust_pool needs a CA pool source", at: "at Testfile:5"},
		{name: "an unknown trust pool source", input: "mcp_proxy {\nname a\ncluster {\nkey k\nnode_trust_pool system_roots_please\n}\nhttp http://y\n}", err: `node_trust_pool: unknown CA pool source "system_roots_please" (the sources are: `, at: "at Testfile:5"},
		{name: "a file pool without a file", input: "mcp_proxy {\nname a\ncluster {\nkey k\nnode_trust_pool file\n}\nhttp http://y\n}", err: "node_trust_pool file: no certificates specified", at: "at Testfile:5"},
		{name: "a trust pool twice", input: "mcp_proxy {\nname a\ncluster {\nkey k\nnode_trust_pool file a.pem\nnode_trust_pool file b.pem\n}\nhttp http://y\n}", err: "node_trust_pool is set twice", at: "at Testfile:6"},
		{name: "a server name without a name", input: "mcp_proxy {\nname a\ncluster {\nkey k\nnode_server_name\n}\nhttp http://y\n}", err: "wrong argument count", at: "at Testfile:5"},
		{name: "two server names", input: "mcp_proxy {\nname a\ncluster {\nkey k\nnode_server_name a b\n}\nhttp http://y\n}", err: "wrong argument count", at: "at Testfile:5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasSuffix(err.Error(), tc.at) {
					t.Fatalf("err = %v, want %q %s", err, tc.err, tc.at)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(h.Cluster)
			if string(got) != tc.json {
				t.Errorf("cluster = %s, want %s", got, tc.json)
			}
		})
	}
}

// TestClusterProvision: keys resolve from placeholders at provisioning, and
// a missing, malformed or repeated key, a bad node_url or a missing name
// is refused with an error that never quotes a key.
func TestClusterProvision(t *testing.T) {
	k1, k2 := seal.NewKey(), seal.NewKey()
	t.Setenv("CADDYMCP_TEST_KEY", k1)
	t.Setenv("CADDYMCP_TEST_KEY_OLD", k2)
	t.Setenv("CADDYMCP_TEST_EMPTY", "")
	for _, tc := range []struct {
		name    string
		cluster *ClusterConfig
		noName  bool
		stdio   bool
		err     string
	}{
		{name: "keys from the environment", cluster: &ClusterConfig{Keys: []string{"{env.CADDYMCP_TEST_KEY}", "{env.CADDYMCP_TEST_KEY_OLD}"}, NodeURL: "https://10.0.0.5:8443"}},
		{name: "a literal key", cluster: &ClusterConfig{Keys: []string{k1}}},
		{name: "no cluster"},
		{name: "no name", cluster: &ClusterConfig{Keys: []string{k1}}, noName: true, err: "cluster needs the endpoint's name"},
		{name: "no key", cluster: &ClusterConfig{}, err: "cluster needs at least one key"},
		{name: "an unset variable", cluster: &ClusterConfig{Keys: []string{"{env.CADDYMCP_TEST_EMPTY}"}}, err: "cluster key 1 is empty"},
		{name: "a short key", cluster: &ClusterConfig{Keys: []string{k1, "c2hvcnQ="}}, err: "cluster key 2: a cluster key must be 32 bytes"},
		{name: "the same key twice", cluster: &ClusterConfig{Keys: []string{k1, "{env.CADDYMCP_TEST_KEY}"}}, err: "cluster key 2: the same key is listed twice"},
		{name: "stdio without node_url", cluster: &ClusterConfig{Keys: []string{k1}}, stdio: true, err: "cluster needs node_url"},
		{name: "stdio with an unset node_url", cluster: &ClusterConfig{Keys: []string{k1}, NodeURL: "{env.CADDYMCP_TEST_EMPTY}"}, stdio: true, err: "cluster needs node_url"},
		{name: "stdio with node_url", cluster: &ClusterConfig{Keys: []string{k1}, NodeURL: "http://10.0.0.5:8080"}, stdio: true},
		{name: "a node_url without a scheme", cluster: &ClusterConfig{Keys: []string{k1}, NodeURL: "10.0.0.5:8080"}, err: "node_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &Handler{Name: "cluster-" + strings.ReplaceAll(tc.name, " ", "-"), Upstreams: []*UpstreamConfig{httpUp("", "http://127.0.0.1:9/mcp")}, Cluster: tc.cluster}
			if tc.noName {
				h.Name = ""
			}
			if tc.stdio {
				h.Upstreams = []*UpstreamConfig{stdioUp("true")}
			}
			err := provision(t, configContext(t), h)
			if err == nil {
				defer func() { _ = h.Cleanup() }()
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				if strings.Contains(err.Error(), k1[:10]) || strings.Contains(err.Error(), k2[:10]) {
					t.Errorf("the error quotes a key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (h.cluster != nil) != (tc.cluster != nil) || (h.cluster != nil && h.cluster.Endpoint != h.Name) {
				t.Errorf("front cluster = %+v", h.cluster)
			}
			if h.cluster != nil && (h.cluster.Node != repl(tc.cluster.NodeURL) || h.cluster.Hops == nil) {
				t.Errorf("front cluster node %q, hops %v; want %q and the process's", h.cluster.Node, h.cluster.Hops, tc.cluster.NodeURL)
			}
		})
	}
}

func repl(s string) string { return caddy.NewReplacer().ReplaceKnown(s, "") }
