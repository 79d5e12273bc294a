package caddymcp

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalServers(t *testing.T) {
	h := new(Handler)
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`mcp_proxy {
		server github {
			stdio npx -y @modelcontextprotocol/server-github {
				env GITHUB_TOKEN secret
			}
			tools {
				deny delete_*
			}
		}
		server docs {
			http https://docs.internal/mcp
			http https://docs-2.internal/mcp
			lb_policy first
			health_interval 10s
		}
		federate {
			prefix conditional
			separator __
			server_name "Acme tools"
		}
		tools {
			deny docs__secret
		}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(h)
	var got struct {
		Servers []struct {
			Name      string            `json:"name"`
			Upstreams []json.RawMessage `json:"upstreams"`
			Tools     *struct{ Deny []string }
			LBPolicy  json.RawMessage `json:"lb_policy"`
			Health    json.RawMessage `json:"health_checks"`
		} `json:"servers"`
		Federate FederateConfig    `json:"federate"`
		Pipeline []json.RawMessage `json:"pipeline"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	s := got.Servers
	if len(s) != 2 || s[0].Name != "github" || len(s[0].Upstreams) != 1 || s[0].Tools == nil || s[0].Tools.Deny[0] != "delete_*" ||
		s[1].Name != "docs" || len(s[1].Upstreams) != 2 || s[1].LBPolicy == nil || s[1].Health == nil {
		t.Errorf("servers: %s", b)
	}
	if got.Federate != (FederateConfig{Prefix: "conditional", Separator: "__", ServerName: "Acme tools"}) {
		t.Errorf("federate: %+v", got.Federate)
	}
	if len(got.Pipeline) != 1 || !strings.Contains(string(got.Pipeline[0]), "docs__secret") {
		t.Errorf("the endpoint's own filter: %s", got.Pipeline)
	}
}

// Bad server blocks fail at adapt, with the file and line of the block.
func TestUnmarshalServersErrors(t *testing.T) {
	for _, tt := range []struct{ name, body, want string }{
		{"duplicate", "server a {\n stdio x\n}\nserver a {\n stdio y\n}", `two servers are named "a", at Testfile:5`},
		{"separator set", "server a-b {\n stdio x\n}\nserver c {\n stdio y\n}\nfederate {\n separator -\n}", `contains the separator "-", at Testfile:2`},
		{"bad name", "server a.b {\n stdio x\n}", `must be 1 to 32 letters, digits or '-', at Testfile:2`},
		{"no upstream", "server a {\n}", "server a needs an upstream"},
		{"mixed", "stdio x\nserver a {\n stdio y\n}", "every stdio, http, replay, lb_* and health line goes inside a server block"},
		{"unknown line", "server a {\n stdio y\n record /tmp\n}", `unrecognized server subdirective "record"`},
		{"bad prefix", "server a {\n stdio y\n}\nfederate {\n prefix sometimes\n}", "prefix must be always, conditional or never"},
		{"bad separator", "server a {\n stdio y\n}\nfederate {\n separator :\n}", `separator ":" must be`},
		{"federate alone", "stdio y\nfederate {\n prefix never\n}", "federate needs server blocks"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := new(Handler)
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("mcp_proxy {\n" + tt.body + "\n}"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one with %q", err, tt.want)
			}
		})
	}
}

// One server block is its lines at the top level: nothing is wrapped, and
// its filters become the endpoint's first filter stage.
func TestOneServerIsTheUpstream(t *testing.T) {
	h := new(Handler)
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`mcp_proxy {
		server only {
			stdio my-server
			tools {
				deny secret_*
			}
		}
	}`)); err != nil {
		t.Fatal(err)
	}
	if err := h.checkServersConfig(); err != nil {
		t.Fatal(err)
	}
	if h.federated() || len(h.Servers) != 0 || len(h.Upstreams) != 1 || h.Upstreams[0].Stdio.Command != "my-server" {
		t.Fatalf("servers %v, upstreams %v", h.Servers, h.Upstreams)
	}
	if len(h.Pipeline) != 1 || !strings.Contains(string(h.Pipeline[0]), `"stage":"filter"`) || !strings.Contains(string(h.Pipeline[0]), "secret_*") {
		t.Errorf("pipeline %s", h.Pipeline)
	}
}

// The JSON configuration gets the Caddyfile's checks at provisioning.
func TestServersConfigErrors(t *testing.T) {
	stdio := []*UpstreamConfig{{Stdio: &StdioUpstream{Command: "x"}}}
	for _, tt := range []struct {
		name string
		h    Handler
		want string
	}{
		{"mixed", Handler{Upstreams: stdio, Servers: []*ServerConfig{{Name: "a", Upstreams: stdio}}}, "goes inside a server"},
		{"duplicate", Handler{Servers: []*ServerConfig{{Name: "a", Upstreams: stdio}, {Name: "a", Upstreams: stdio}}}, `two servers are named "a"`},
		{"empty", Handler{Servers: []*ServerConfig{{Name: "a", Upstreams: stdio}, {Name: "b"}}}, "server b has no upstream"},
		{"separator", Handler{Servers: []*ServerConfig{{Name: "a-b", Upstreams: stdio}, {Name: "c", Upstreams: stdio}},
			Federate: &FederateConfig{Separator: "-"}}, `contains the separator "-"`},
		{"prefix", Handler{Servers: []*ServerConfig{{Name: "a", Upstreams: stdio}, {Name: "c", Upstreams: stdio}},
			Federate: &FederateConfig{Prefix: "maybe"}}, "prefix must be"},
		{"bad upstream", Handler{Servers: []*ServerConfig{{Name: "a", Upstreams: []*UpstreamConfig{{}}}, {Name: "c", Upstreams: stdio}}},
			"server a: upstream 1: each upstream is exactly one of"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.h.checkServersConfig(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one with %q", err, tt.want)
			}
		})
	}
}
