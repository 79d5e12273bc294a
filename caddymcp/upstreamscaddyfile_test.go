package caddymcp

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// TestUnmarshalSeveralUpstreams: any mix of stdio and http lines, each
// with its own block and name, and the balancing lines.
func TestUnmarshalSeveralUpstreams(t *testing.T) {
	h := new(Handler)
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`mcp_proxy {
		http https://a.internal/mcp {
			name a
			header_up X-Key secret
		}
		http https://b.internal:8443/mcp
		stdio npx -y server {
			max_processes 4
		}
		lb_policy weighted_round_robin 3 1 1
		lb_retries 2
		health_interval 10s
		health_timeout 2s
		health_uri /healthz
		fail_duration 1m
		max_fails 5
		unhealthy_latency 3s
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Upstreams) != 3 || h.Upstreams[0].Name != "a" || h.Upstreams[0].HTTP.URL != "https://a.internal/mcp" ||
		h.Upstreams[1].Name != "" || h.Upstreams[2].Stdio == nil || h.Upstreams[2].Stdio.MaxProcesses != 4 {
		t.Fatalf("upstreams: %+v", h.Upstreams)
	}
	names, err := upstreamNames(h.Upstreams)
	if err != nil || strings.Join(names, ",") != "a,b.internal-8443,npx" {
		t.Errorf("names %v, %v; want a, b.internal-8443 (the host and the port the URL names, never its path), npx", names, err)
	}
	var policy map[string]any
	if err := json.Unmarshal(h.LBPolicyRaw, &policy); err != nil || policy["policy"] != "weighted_round_robin" {
		t.Errorf("lb_policy %s", h.LBPolicyRaw)
	}
	hc := h.HealthChecks
	if h.LBRetries == nil || *h.LBRetries != 2 || hc == nil || hc.Interval != dur(10*time.Second) || hc.Timeout != dur(2*time.Second) ||
		hc.URI != "/healthz" || hc.FailDuration != dur(time.Minute) || hc.MaxFails != 5 || hc.UnhealthyLatency != dur(3*time.Second) {
		t.Errorf("balancing: retries %v, health %+v", h.LBRetries, hc)
	}
}

// TestUpstreamNamesUnique: derived names never collide, configured ones
// must not.
func TestUpstreamNamesUnique(t *testing.T) {
	ups := []*UpstreamConfig{
		{Stdio: &StdioUpstream{Command: "/usr/bin/npx"}},
		{Stdio: &StdioUpstream{Command: "npx"}},
		{HTTP: &HTTPUpstream{URL: "https://user:pw@[::1]:9000/secret?token=x"}},
	}
	names, err := upstreamNames(ups)
	if err != nil || strings.Join(names, ",") != "npx,npx-2,1-9000" {
		t.Errorf("names %v, %v", names, err)
	}
	if _, err := upstreamNames([]*UpstreamConfig{{Name: "x", Stdio: &StdioUpstream{Command: "a"}}, {Name: "x", Stdio: &StdioUpstream{Command: "b"}}}); err == nil ||
		!strings.Contains(err.Error(), `two upstreams are named "x"`) {
		t.Errorf("duplicate names: %v", err)
	}
}

// TestUnmarshalBalancingErrors: each bad line gets a message with its line.
func TestUnmarshalBalancingErrors(t *testing.T) {
	for _, tt := range []struct{ name, input, want string }{
		{"unknown policy", "lb_policy fastest", `unknown policy "fastest"`},
		{"no policy", "lb_policy", "lb_policy needs a policy"},
		{"policy twice", "lb_policy first\nlb_policy random", "lb_policy is set twice"},
		{"args to round_robin", "lb_policy round_robin 3", "takes no arguments"},
		{"bad weight", "lb_policy weighted_round_robin 3 x", `weight "x" is not a whole number`},
		{"too many weights", "lb_policy weighted_round_robin 1 2 3", "3 weights for 2 upstreams"},
		{"no weights", "lb_policy weighted_round_robin", "needs a weight per upstream"},
		{"header without field", "lb_policy header", "needs the request header"},
		{"negative retries", "lb_retries -1", "lb_retries must be zero or positive"},
		{"bad interval", "health_interval soon", "invalid duration"},
		{"relative health_uri", "health_uri healthz", "health_uri must be a path"},
		{"zero max_fails", "max_fails 0", "max_fails must be a positive integer"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			input := "mcp_proxy {\nhttp http://a/mcp\nhttp http://b/mcp\n" + tt.input + "\n}"
			err := new(Handler).UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "Testfile:") {
				t.Fatalf("got %v, want %q with a line", err, tt.want)
			}
		})
	}
}
