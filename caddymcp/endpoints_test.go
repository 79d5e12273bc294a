package caddymcp

import (
	"strings"
	"testing"
)

// TestClaimEndpoint: handlers configured alike share a session store;
// differently configured ones with the same default name get their own,
// with "#2", "#3", …; the same configured name on two different
// configurations is refused, and so is a configured name another handler
// has as its default.
func TestClaimEndpoint(t *testing.T) {
	type claim struct {
		name, fallback, config string
		wantKey, wantErr       string
	}
	for _, tt := range []struct {
		name   string
		claims []claim
	}{
		{"one default", []claim{{"", "stdio:a", "{1}", "stdio:a", ""}}},
		{"alike defaults share", []claim{
			{"", "stdio:a", "{1}", "stdio:a", ""},
			{"", "stdio:a", "{1}", "stdio:a", ""},
		}},
		{"different defaults split", []claim{
			{"", "stdio:a", "{1}", "stdio:a", ""},
			{"", "stdio:a", "{2}", "stdio:a#2", ""},
			{"", "stdio:a", "{3}", "stdio:a#3", ""},
			{"", "stdio:a", "{2}", "stdio:a#2", ""},
			{"", "stdio:b", "{2}", "stdio:b", ""},
		}},
		{"named alike share", []claim{
			{"localhost:8080/mcp", "stdio:a", "{1}", "localhost:8080/mcp", ""},
			{"localhost:8080/mcp", "stdio:a", "{1}", "localhost:8080/mcp", ""},
		}},
		{"named differently configured refused", []claim{
			{"api", "stdio:a", "{1}", "api", ""},
			{"api", "stdio:a", "{2}", "", `name "api" is used by two mcp_proxy handlers configured differently`},
		}},
		{"names and defaults apart", []claim{
			{"api", "stdio:a", "{1}", "api", ""},
			{"", "stdio:a", "{2}", "stdio:a", ""},
		}},
		{"a default steps past a name", []claim{
			{"stdio:a", "stdio:x", "{1}", "stdio:a", ""},
			{"", "stdio:a", "{2}", "stdio:a#2", ""},
		}},
		{"a name on another's default refused", []claim{
			{"", "stdio:a", "{1}", "stdio:a", ""},
			{"stdio:a", "stdio:x", "{2}", "", `name "stdio:a" is the default name of another mcp_proxy handler`},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			app := new(App)
			for i, c := range tt.claims {
				key, err := app.claimEndpoint(c.name, c.fallback, []byte(c.config))
				switch {
				case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
					t.Errorf("claim %d: %v, want an error with %q", i, err, c.wantErr)
				case c.wantErr == "" && (err != nil || key != c.wantKey):
					t.Errorf("claim %d: %q %v, want %q", i, key, err, c.wantKey)
				}
			}
		})
	}
}

// TestDefaultEndpointName: a JSON config without a name is named after its
// upstreams, readably and without secrets: the program a stdio command
// runs, an HTTP upstream's host, a tape's file name.
func TestDefaultEndpointName(t *testing.T) {
	stdio := func(cmd string, args ...string) *UpstreamConfig {
		return &UpstreamConfig{Stdio: &StdioUpstream{Command: cmd, Args: args}}
	}
	web := func(u string) *UpstreamConfig { return &UpstreamConfig{HTTP: &HTTPUpstream{URL: u}} }
	for _, tc := range []struct {
		name string
		ups  []*UpstreamConfig
		want string
	}{
		{"npx package", []*UpstreamConfig{stdio("npx", "-y", "@modelcontextprotocol/server-everything")}, "stdio:server-everything"},
		{"npx package at a version", []*UpstreamConfig{stdio("/usr/bin/npx", "-y", "@modelcontextprotocol/server-everything@2025.1.1")}, "stdio:server-everything"},
		{"uvx", []*UpstreamConfig{stdio("uvx", "mcp-server-fetch")}, "stdio:mcp-server-fetch"},
		{"python module", []*UpstreamConfig{stdio("python3", "-m", "mcp_server_time", "--local-timezone=UTC")}, "stdio:mcp_server_time"},
		{"node script", []*UpstreamConfig{stdio("node", "/srv/weather/build/index.js")}, "stdio:index"},
		{"go run", []*UpstreamConfig{stdio("go", "run", "github.com/x/y/cmd/everything@v1.2.0")}, "stdio:everything"},
		{"a flag's value with =", []*UpstreamConfig{stdio("npx", "--token=sk-secret", "server-x")}, "stdio:server-x"},
		{"launcher without a program", []*UpstreamConfig{stdio("npx", "-y")}, "stdio:npx"},
		{"executable", []*UpstreamConfig{stdio("/opt/mcp/bin/weather-server", "--api-key", "sk-secret")}, "stdio:weather-server"},
		{"http host and port", []*UpstreamConfig{web("https://me:secret@mcp.example.com:8443/v1/mcp?key=sk")}, "mcp.example.com:8443"},
		{"http host", []*UpstreamConfig{web("https://mcp.example.com/mcp")}, "mcp.example.com"},
		{"replay", []*UpstreamConfig{{Replay: &ReplayUpstream{Path: "/home/me/tapes/day1.jsonl"}}}, "replay:day1.jsonl"},
		{"several", []*UpstreamConfig{stdio("uvx", "a"), web("http://10.0.0.2:9000/mcp")}, "stdio:a,10.0.0.2:9000"},
		{"long", []*UpstreamConfig{stdio("uvx", strings.Repeat("x", 40)), stdio("uvx", strings.Repeat("y", 40))},
			"stdio:" + strings.Repeat("x", 40) + ",stdio:" + strings.Repeat("y", 11) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := defaultEndpointName(tc.ups); got != tc.want {
				t.Errorf("defaultEndpointName = %q, want %q", got, tc.want)
			}
		})
	}
}
