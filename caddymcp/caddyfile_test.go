package caddymcp

import (
	"encoding/json"
	_ "github.com/caddy-mcp/caddy-mcp/caddymcp/stages" // the stage modules that parse intercept, tools, … (addStage)
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-mcp/caddy-mcp/upstream/stdio"
)

// These tests drive UnmarshalCaddyfile with caddyfile.NewTestDispenser, as
// httpcaddyfile does after it has taken a matcher token (if any) off the
// directive's line. The adapter-level tests — matchers, ordering, file and
// line of errors through the whole adapter — are in ../caddytest.

func intPtr(n int) *int { return &n }

func dur(d time.Duration) caddy.Duration { return caddy.Duration(d) }

// stdioOnly is the smallest valid handler body's result: a stdio upstream
// running cmd and nothing else set.
func stdioOnly(h Handler) Handler {
	h.Upstreams = []*UpstreamConfig{{Stdio: &StdioUpstream{Command: "cmd"}}}
	return h
}

func TestUnmarshalCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		want  Handler
	}{
		{
			name: "minimal",
			input: `mcp_proxy {
				stdio cmd
			}`,
			want: Handler{Upstreams: []*UpstreamConfig{{Stdio: &StdioUpstream{Command: "cmd"}}}},
		},
		{
			name: "stdio with arguments",
			input: `mcp_proxy {
				stdio npx -y @modelcontextprotocol/server-everything "a b" {env.X}
			}`,
			want: Handler{Upstreams: []*UpstreamConfig{{Stdio: &StdioUpstream{
				Command: "npx",
				Args:    []string{"-y", "@modelcontextprotocol/server-everything", "a b", "{env.X}"},
			}}}},
		},
		{
			name: "stdio with an empty block",
			input: `mcp_proxy {
				stdio cmd arg {
				}
			}`,
			want: Handler{Upstreams: []*UpstreamConfig{{Stdio: &StdioUpstream{Command: "cmd", Args: []string{"arg"}}}}},
		},
		{
			name: "every stdio subdirective",
			input: `mcp_proxy {
				stdio /usr/bin/server --flag {
					env API_KEY {env.API_KEY}
					env MODE "read only"
					dir /srv/mcp
					max_processes 8
					warm 2
					idle_timeout 90s
					stop_timeout 2s
					acquire_timeout 1m
				}
			}`,
			want: Handler{Upstreams: []*UpstreamConfig{{Stdio: &StdioUpstream{
				Command:        "/usr/bin/server",
				Args:           []string{"--flag"},
				Env:            map[string]string{"API_KEY": "{env.API_KEY}", "MODE": "read only"},
				Dir:            "/srv/mcp",
				MaxProcesses:   8,
				Warm:           intPtr(2),
				IdleTimeout:    dur(90 * time.Second),
				StopTimeout:    dur(2 * time.Second),
				AcquireTimeout: dur(time.Minute),
			}}}},
		},
		{
			name: "warm 0 is kept, not the default",
			input: `mcp_proxy {
				stdio cmd {
					warm 0
				}
			}`,
			want: Handler{Upstreams: []*UpstreamConfig{{Stdio: &StdioUpstream{Command: "cmd", Warm: intPtr(0)}}}},
		},
		{
			name: "env is repeatable",
			input: `mcp_proxy {
				stdio cmd {
					env A 1
					env B 2
				}
			}`,
			want: Handler{Upstreams: []*UpstreamConfig{{Stdio: &StdioUpstream{Command: "cmd", Env: map[string]string{"A": "1", "B": "2"}}}}},
		},
		{
			name: "name",
			input: `mcp_proxy {
				name everything
				stdio cmd
			}`,
			want: stdioOnly(Handler{Name: "everything"}),
		},
		{
			name: "stdio need not come first",
			input: `mcp_proxy {
				max_sessions 3
				stdio cmd
				max_in_flight 4
			}`,
			want: stdioOnly(Handler{MaxSessions: 3, MaxInFlight: 4}),
		},
		{
			name: "session_idle_timeout",
			input: `mcp_proxy {
				stdio cmd
				session_idle_timeout 45m
			}`,
			want: stdioOnly(Handler{SessionIdleTimeout: dur(45 * time.Minute)}),
		},
		{
			name: "session_idle_timeout in days",
			input: `mcp_proxy {
				stdio cmd
				session_idle_timeout 1d
			}`,
			want: stdioOnly(Handler{SessionIdleTimeout: dur(24 * time.Hour)}),
		},
		{
			name: "max_sessions",
			input: `mcp_proxy {
				stdio cmd
				max_sessions 100
			}`,
			want: stdioOnly(Handler{MaxSessions: 100}),
		},
		{
			name: "max_sessions_per_client",
			input: `mcp_proxy {
				stdio cmd
				max_sessions_per_client 8
			}`,
			want: stdioOnly(Handler{MaxSessionsPerClient: 8}),
		},
		{
			name: "request_timeout",
			input: `mcp_proxy {
				stdio cmd
				request_timeout 30s
			}`,
			want: stdioOnly(Handler{RequestTimeout: dur(30 * time.Second)}),
		},
		{
			name: "max_message_size in decimal megabytes",
			input: `mcp_proxy {
				stdio cmd
				max_message_size 1MB
			}`,
			want: stdioOnly(Handler{MaxMessageSize: 1000 * 1000}),
		},
		{
			name: "max_message_size in binary kibibytes",
			input: `mcp_proxy {
				stdio cmd
				max_message_size 512KiB
			}`,
			want: stdioOnly(Handler{MaxMessageSize: 512 * 1024}),
		},
		{
			name: "max_message_size in bytes",
			input: `mcp_proxy {
				stdio cmd
				max_message_size 65536
			}`,
			want: stdioOnly(Handler{MaxMessageSize: 65536}),
		},
		{
			name: "allowed_origins accumulates",
			input: `mcp_proxy {
				stdio cmd
				allowed_origins https://a.example https://b.example
				allowed_origins https://c.example
			}`,
			want: stdioOnly(Handler{AllowedOrigins: []string{"https://a.example", "https://b.example", "https://c.example"}}),
		},
		{
			name: "allowed_hosts accumulates",
			input: `mcp_proxy {
				stdio cmd
				allowed_hosts mcp.example
				allowed_hosts "*"
			}`,
			want: stdioOnly(Handler{AllowedHosts: []string{"mcp.example", "*"}}),
		},
		{
			name: "verbose_errors",
			input: `mcp_proxy {
				stdio cmd
				verbose_errors
			}`,
			want: stdioOnly(Handler{VerboseErrors: true}),
		},
		{
			name: "keepalive",
			input: `mcp_proxy {
				stdio cmd
				keepalive 5s
			}`,
			want: stdioOnly(Handler{KeepAlive: dur(5 * time.Second)}),
		},
		{
			name: "held_progress",
			input: `mcp_proxy {
				stdio cmd
				held_progress 2s
			}`,
			want: stdioOnly(Handler{HeldProgressInterval: dur(2 * time.Second)}),
		},
		{
			name: "replay_buffer",
			input: `mcp_proxy {
				stdio cmd
				replay_buffer 128 256KiB
			}`,
			want: stdioOnly(Handler{ReplayEvents: 128, ReplayBytes: 256 * 1024}),
		},
		{
			name: "replay_budget",
			input: `mcp_proxy {
				stdio cmd
				replay_budget 16MiB
			}`,
			want: stdioOnly(Handler{ReplayBudget: 16 << 20}),
		},
		{
			name: "replay_budget in decimal units",
			input: `mcp_proxy {
				stdio cmd
				replay_budget 100MB
			}`,
			want: stdioOnly(Handler{ReplayBudget: 100_000_000}),
		},
		{
			name: "max_in_flight",
			input: `mcp_proxy {
				stdio cmd
				max_in_flight 16
			}`,
			want: stdioOnly(Handler{MaxInFlight: 16}),
		},
		{
			name: "everything",
			input: `mcp_proxy {
				name full
				stdio go run example.com/server@v1.0.0 {
					env TOKEN {env.TOKEN}
					dir /tmp
					max_processes 4
					warm 0
					idle_timeout 2m
					stop_timeout 3s
					acquire_timeout 10s
				}
				session_idle_timeout 1h
				max_sessions 50
				request_timeout 2m
				max_message_size 2MiB
				allowed_origins https://app.example
				allowed_hosts mcp.example
				keepalive 20s
				replay_buffer 64 64KiB
				replay_budget 8MiB
				max_in_flight 8
			}`,
			want: Handler{
				Name: "full",
				Upstreams: []*UpstreamConfig{{Stdio: &StdioUpstream{
					Command:        "go",
					Args:           []string{"run", "example.com/server@v1.0.0"},
					Env:            map[string]string{"TOKEN": "{env.TOKEN}"},
					Dir:            "/tmp",
					MaxProcesses:   4,
					Warm:           intPtr(0),
					IdleTimeout:    dur(2 * time.Minute),
					StopTimeout:    dur(3 * time.Second),
					AcquireTimeout: dur(10 * time.Second),
				}}},
				SessionIdleTimeout: dur(time.Hour),
				MaxSessions:        50,
				RequestTimeout:     dur(2 * time.Minute),
				MaxMessageSize:     2 << 20,
				AllowedOrigins:     []string{"https://app.example"},
				AllowedHosts:       []string{"mcp.example"},
				KeepAlive:          dur(20 * time.Second),
				ReplayEvents:       64,
				ReplayBytes:        64 << 10,
				ReplayBudget:       8 << 20,
				MaxInFlight:        8,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got Handler
			if err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input)); err != nil {
				t.Fatalf("UnmarshalCaddyfile: %v\ninput:\n%s", err, tc.input)
			}
			// Compared as JSON, the form Caddy runs: a nil and an empty
			// Args are the same configuration.
			if got, want := handlerJSON(t, got), handlerJSON(t, tc.want); got != want {
				t.Errorf("UnmarshalCaddyfile\ngot:  %s\nwant: %s", got, want)
			}
		})
	}
}

func TestUnmarshalCaddyfileErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		// line is the Testfile line the error must name.
		line string
		// wants are substrings of the error message.
		wants []string
	}{
		{
			name: "unknown subdirective",
			input: `mcp_proxy {
				stdio cmd
				upstream http://x
			}`,
			line:  "Testfile:3",
			wants: []string{`unrecognized mcp_proxy subdirective "upstream"`},
		},
		{
			name: "unknown stdio subdirective",
			input: `mcp_proxy {
				stdio cmd {
					environment A B
				}
			}`,
			line:  "Testfile:3",
			wants: []string{`unrecognized stdio subdirective "environment"`},
		},
		{
			name: "stdio subdirective at the top level",
			input: `mcp_proxy {
				stdio cmd
				warm 2
			}`,
			line:  "Testfile:3",
			wants: []string{`unrecognized mcp_proxy subdirective "warm"`},
		},
		{
			name: "stdio without a command",
			input: `mcp_proxy {
				stdio
			}`,
			line:  "Testfile:2",
			wants: []string{"stdio needs a command"},
		},
		{
			name: "stdio without a command but with a block",
			input: `mcp_proxy {
				stdio {
					warm 1
				}
			}`,
			line:  "Testfile:2",
			wants: []string{"stdio needs a command"},
		},
		{
			name:  "no block at all",
			input: `mcp_proxy`,
			line:  "Testfile:1",
			wants: []string{"mcp_proxy needs an upstream", "stdio <command>"},
		},
		{
			name: "no stdio in the block",
			input: `mcp_proxy {
				name x
			}`,
			line:  "Testfile:3", // the closing brace
			wants: []string{"mcp_proxy needs an upstream", "stdio <command>"},
		},
		{
			// httpcaddyfile takes a matcher token (/path, *, @name) off the
			// line before calling the parser; anything left is an error.
			name: "argument that is not a matcher",
			input: `mcp_proxy foo bar {
				stdio cmd
			}`,
			line:  "Testfile:1",
			wants: []string{"foo"},
		},
		{
			name: "name without a value",
			input: `mcp_proxy {
				name
				stdio cmd
			}`,
			line:  "Testfile:2",
			wants: []string{"name needs one argument"},
		},
		{
			name: "name with two values",
			input: `mcp_proxy {
				name a b
				stdio cmd
			}`,
			line:  "Testfile:2",
			wants: []string{"name takes one argument, got 2: a b"},
		},
		{
			name: "bad duration",
			input: `mcp_proxy {
				stdio cmd
				session_idle_timeout soon
			}`,
			line:  "Testfile:3",
			wants: []string{`session_idle_timeout: invalid duration "soon"`},
		},
		{
			name: "zero duration",
			input: `mcp_proxy {
				stdio cmd
				request_timeout 0s
			}`,
			line:  "Testfile:3",
			wants: []string{"request_timeout must be positive"},
		},
		{
			name: "negative duration",
			input: `mcp_proxy {
				stdio cmd
				keepalive -5s
			}`,
			line:  "Testfile:3",
			wants: []string{"keepalive must be positive"},
		},
		{
			name: "held_progress of zero",
			input: `mcp_proxy {
				stdio cmd
				held_progress 0s
			}`,
			line:  "Testfile:3",
			wants: []string{"held_progress must be positive"},
		},
		{
			name: "duration without a value",
			input: `mcp_proxy {
				stdio cmd
				keepalive
			}`,
			line:  "Testfile:3",
			wants: []string{"keepalive needs a duration: a duration is a number with a unit, like 10m"},
		},
		{
			name: "bad stdio idle_timeout",
			input: `mcp_proxy {
				stdio cmd {
					idle_timeout 5 minutes
				}
			}`,
			line:  "Testfile:3",
			wants: []string{"idle_timeout takes one duration, got `5 minutes`: a duration is a number with a unit, like 10m, 90s, 1h30m or 2d"},
		},
		{
			name: "bad stdio stop_timeout",
			input: `mcp_proxy {
				stdio cmd {
					stop_timeout 5q
				}
			}`,
			line:  "Testfile:3",
			wants: []string{`stop_timeout: invalid duration "5q"`},
		},
		{
			name: "zero stdio acquire_timeout",
			input: `mcp_proxy {
				stdio cmd {
					acquire_timeout 0
				}
			}`,
			line:  "Testfile:3",
			wants: []string{"acquire_timeout must be positive"},
		},
		{
			name: "negative max_sessions",
			input: `mcp_proxy {
				stdio cmd
				max_sessions -1
			}`,
			line:  "Testfile:3",
			wants: []string{"max_sessions must be a positive integer, got -1"},
		},
		{
			name: "zero max_sessions",
			input: `mcp_proxy {
				stdio cmd
				max_sessions 0
			}`,
			line:  "Testfile:3",
			wants: []string{"max_sessions must be a positive integer, got 0"},
		},
		{
			name: "zero max_sessions_per_client",
			input: `mcp_proxy {
				stdio cmd
				max_sessions_per_client 0
			}`,
			line:  "Testfile:3",
			wants: []string{"max_sessions_per_client must be a positive integer, got 0"},
		},
		{
			name: "non-integer max_in_flight",
			input: `mcp_proxy {
				stdio cmd
				max_in_flight 1.5
			}`,
			line:  "Testfile:3",
			wants: []string{`max_in_flight: "1.5" is not an integer`},
		},
		{
			name: "zero max_processes",
			input: `mcp_proxy {
				stdio cmd {
					max_processes 0
				}
			}`,
			line:  "Testfile:3",
			wants: []string{"max_processes must be a positive integer, got 0"},
		},
		{
			name: "non-integer max_processes",
			input: `mcp_proxy {
				stdio cmd {
					max_processes many
				}
			}`,
			line:  "Testfile:3",
			wants: []string{`max_processes: "many" is not an integer`},
		},
		{
			name: "negative warm",
			input: `mcp_proxy {
				stdio cmd {
					warm -1
				}
			}`,
			line:  "Testfile:3",
			wants: []string{"warm must be zero or positive, got -1"},
		},
		{
			name: "non-integer warm",
			input: `mcp_proxy {
				stdio cmd {
					warm yes
				}
			}`,
			line:  "Testfile:3",
			wants: []string{`warm: "yes" is not an integer`},
		},
		{
			name: "bad size",
			input: `mcp_proxy {
				stdio cmd
				max_message_size big
			}`,
			line:  "Testfile:3",
			wants: []string{`max_message_size: invalid size "big"`},
		},
		{
			name: "zero size",
			input: `mcp_proxy {
				stdio cmd
				max_message_size 0
			}`,
			line:  "Testfile:3",
			wants: []string{`max_message_size: invalid size "0"`},
		},
		{
			name: "negative size",
			input: `mcp_proxy {
				stdio cmd
				max_message_size -1MB
			}`,
			line:  "Testfile:3",
			wants: []string{`max_message_size: invalid size "-1MB"`},
		},
		{
			name: "env with one argument",
			input: `mcp_proxy {
				stdio cmd {
					env API_KEY
				}
			}`,
			line:  "Testfile:3",
			wants: []string{"env takes a name and a value"},
		},
		{
			name: "env with three arguments",
			input: `mcp_proxy {
				stdio cmd {
					env A b c
				}
			}`,
			line:  "Testfile:3",
			wants: []string{"env takes a name and a value"},
		},
		{
			name: "dir without a value",
			input: `mcp_proxy {
				stdio cmd {
					dir
				}
			}`,
			line:  "Testfile:3",
			wants: []string{"dir needs one argument"},
		},
		{
			name: "allowed_origins without a value",
			input: `mcp_proxy {
				stdio cmd
				allowed_origins
			}`,
			line:  "Testfile:3",
			wants: []string{"wrong argument count"},
		},
		{
			name: "allowed_hosts without a value",
			input: `mcp_proxy {
				stdio cmd
				allowed_hosts
			}`,
			line:  "Testfile:3",
			wants: []string{"wrong argument count"},
		},
		{
			name: "replay_buffer with one argument",
			input: `mcp_proxy {
				stdio cmd
				replay_buffer 512
			}`,
			line:  "Testfile:3",
			wants: []string{"replay_buffer takes two arguments"},
		},
		{
			name: "replay_buffer with three arguments",
			input: `mcp_proxy {
				stdio cmd
				replay_buffer 512 1MiB 2
			}`,
			line:  "Testfile:3",
			wants: []string{"replay_buffer takes two arguments"},
		},
		{
			name: "replay_buffer with zero events",
			input: `mcp_proxy {
				stdio cmd
				replay_buffer 0 1MiB
			}`,
			line:  "Testfile:3",
			wants: []string{`replay_buffer: events must be a positive integer, got "0"`},
		},
		{
			name: "replay_buffer with non-integer events",
			input: `mcp_proxy {
				stdio cmd
				replay_buffer many 1MiB
			}`,
			line:  "Testfile:3",
			wants: []string{`replay_buffer: events must be a positive integer, got "many"`},
		},
		{
			name: "replay_buffer with a bad size",
			input: `mcp_proxy {
				stdio cmd
				replay_buffer 512 lots
			}`,
			line:  "Testfile:3",
			wants: []string{`replay_buffer: invalid size "lots"`},
		},
		{
			name: "replay_budget without a size",
			input: `mcp_proxy {
				stdio cmd
				replay_budget
			}`,
			line:  "Testfile:3",
			wants: []string{"replay_budget needs a size: a size is a number with a unit in one word, like 4MB"},
		},
		{
			name: "replay_budget with two sizes",
			input: `mcp_proxy {
				stdio cmd
				replay_budget 1MiB 2MiB
			}`,
			line:  "Testfile:3",
			wants: []string{"replay_budget takes one size, got `1MiB 2MiB`"},
		},
		{
			name: "replay_budget with a bad size",
			input: `mcp_proxy {
				stdio cmd
				replay_budget lots
			}`,
			line:  "Testfile:3",
			wants: []string{`replay_budget: invalid size "lots"`},
		},
		{
			name: "replay_budget of zero",
			input: `mcp_proxy {
				stdio cmd
				replay_budget 0
			}`,
			line:  "Testfile:3",
			wants: []string{`replay_budget: invalid size "0"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
			if err == nil {
				t.Fatalf("UnmarshalCaddyfile succeeded, want an error\ninput:\n%s\nresult: %s", tc.input, handlerJSON(t, h))
			}
			msg := err.Error()
			wants := tc.wants
			if tc.line != "" {
				wants = append(wants, "at "+tc.line)
			}
			for _, want := range wants {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
		})
	}
}

// TestUnmarshalCaddyfileSizeOverflow checks that a size too large for the
// field is an error at parse time, not a wrapped-around negative number
// that only fails (without a file and line) when the handler is provisioned.
func TestUnmarshalCaddyfileSizeOverflow(t *testing.T) {
	for _, input := range []string{
		`mcp_proxy {
			stdio cmd
			max_message_size 10EiB
		}`,
		`mcp_proxy {
			stdio cmd
			replay_buffer 512 10EiB
		}`,
		`mcp_proxy {
			stdio cmd
			replay_budget 10EiB
		}`,
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
		if err == nil {
			t.Errorf("UnmarshalCaddyfile succeeded, want an error\ninput:\n%s\nresult: %s", input, handlerJSON(t, h))
			continue
		}
		if !strings.Contains(err.Error(), "10EiB") || !strings.Contains(err.Error(), "Testfile:3") {
			t.Errorf("error %q does not name the size and the line", err)
		}
	}
}

func handlerJSON(t *testing.T, h Handler) string {
	t.Helper()
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestUnmarshalCaddyfileStdioChecks covers the stdio checks that must fail
// at adapt time, with a line, rather than at provisioning.
func TestUnmarshalCaddyfileStdioChecks(t *testing.T) {
	tests := []struct {
		name, block, want string
	}{
		{"env set twice", "env A 1\nenv A 2", "env: A is set twice"},
		{"env name with =", "env A=B x", `env: invalid variable name "A=B"`},
		{"env empty name", `env "" x`, `env: invalid variable name ""`},
		{"warm above the default max_processes", "warm 17", "warm (17) must not exceed max_processes (16)"},
		{"warm above max_processes", "max_processes 2\nwarm 3", "warm (3) must not exceed max_processes (2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := caddyfile.NewTestDispenser("mcp_proxy {\nstdio cmd {\n" + tt.block + "\n}\n}")
			err := new(Handler).UnmarshalCaddyfile(d)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "Testfile:") {
				t.Fatalf("got %v, want an error with %q and a line", err, tt.want)
			}
		})
	}
}

// TestUnmarshalCaddyfileHTTP covers the http upstream block.
func TestUnmarshalCaddyfileHTTP(t *testing.T) {
	d := caddyfile.NewTestDispenser(`mcp_proxy {
		http https://mcp.example.com/mcp {
			header_up Authorization "Bearer {env.UPSTREAM_TOKEN}"
			header_up X-User {http.auth.user.id}
			pass_authorization
			response_header_timeout 20s
			idle_timeout 2m
			dial_timeout 1s
			tls_trusted_ca_certs /etc/ca.pem
			tls_client_auth /etc/client.pem /etc/client.key
			tls_server_name mcp.internal
			tls_insecure_skip_verify
		}
	}`)
	var h Handler
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	u := h.Upstreams[0].HTTP
	if u == nil || h.Upstreams[0].Stdio != nil || u.URL != "https://mcp.example.com/mcp" {
		t.Fatalf("upstream: %+v", h)
	}
	if got := u.HeaderUp.Get("Authorization"); got != "Bearer {env.UPSTREAM_TOKEN}" || u.HeaderUp.Get("X-User") != "{http.auth.user.id}" {
		t.Errorf("header_up: %v", u.HeaderUp)
	}
	if !u.PassAuthorization || u.ResponseHeaderTimeout != caddy.Duration(20*time.Second) || u.IdleTimeout != caddy.Duration(2*time.Minute) {
		t.Errorf("settings: %+v", u)
	}
	tr := u.Transport
	if tr == nil || tr.DialTimeout != caddy.Duration(time.Second) || tr.TLS == nil {
		t.Fatalf("transport: %+v", tr)
	}
	if !strings.Contains(string(tr.TLS.CARaw), `"pem_files":["/etc/ca.pem"]`) || !strings.Contains(string(tr.TLS.CARaw), `"provider":"file"`) || tr.TLS.ClientCertificateFile != "/etc/client.pem" ||
		tr.TLS.ClientCertificateKeyFile != "/etc/client.key" || tr.TLS.ServerName != "mcp.internal" || !tr.TLS.InsecureSkipVerify {
		t.Errorf("tls: %+v", tr.TLS)
	}

	bad := []struct{ name, input, want string }{
		{"not a URL", "http mcp.example.com", "is not an absolute http:// or https:// URL"},
		{"no URL", "http", "takes exactly one argument"},
		{"tls on http://", "http http://x/mcp {\ntls_insecure_skip_verify\n}", "tls_* settings need an https:// URL"},
		{"header_up with one arg", "http http://x/mcp {\nheader_up X\n}", "header_up takes a field and a value"},
		{"unknown", "http http://x/mcp {\nfoo\n}", `unrecognized http subdirective "foo"`},
		{"bad upstream name", "http http://x/mcp {\nname a/b\n}", "must be 1 to 64 letters"},
		{"name without value", "http http://x/mcp {\nname\n}", "name needs one argument"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			err := new(Handler).UnmarshalCaddyfile(caddyfile.NewTestDispenser("mcp_proxy {\n" + tt.input + "\n}"))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "Testfile:") {
				t.Fatalf("got %v, want %q with a line", err, tt.want)
			}
		})
	}
}

// TestUnmarshalCaddyfileStdioEra covers the stateless settings of stdio.
func TestUnmarshalCaddyfileStdioEra(t *testing.T) {
	var h Handler
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("mcp_proxy {\nstdio cmd {\nprotocol modern\nprobe_timeout 3s\nshared 4\n}\n}"))
	if err != nil {
		t.Fatal(err)
	}
	if u := h.Upstreams[0].Stdio; u.Protocol != "modern" || u.ProbeTimeout != caddy.Duration(3*time.Second) || u.Shared == nil || *u.Shared != 4 {
		t.Fatalf("got %+v", u)
	}
	h = Handler{}
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("mcp_proxy {\nstdio cmd {\nshared 0\n}\n}")); err != nil {
		t.Fatal(err)
	}
	if opts := h.Upstreams[0].Stdio.options(); opts.Shared != stdio.NoShared {
		t.Fatalf("shared 0: upstream Shared = %d, want NoShared (off)", opts.Shared)
	}
	if opts := (&StdioUpstream{}).options(); opts.Shared != 0 {
		t.Fatalf("no shared line: upstream Shared = %d, want 0 (the default)", opts.Shared)
	}
	err = new(Handler).UnmarshalCaddyfile(caddyfile.NewTestDispenser("mcp_proxy {\nstdio cmd {\nshared -1\n}\n}"))
	if err == nil || !strings.Contains(err.Error(), "shared must be zero (off) or positive, got -1") {
		t.Fatalf("shared -1: %v", err)
	}
	h = Handler{}
	err = h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("mcp_proxy {\nstdio cmd {\nspare_check off\nspare_check_timeout 2s\n}\n}"))
	if err != nil {
		t.Fatal(err)
	}
	if u := h.Upstreams[0].Stdio; u.SpareCheck != "off" || u.SpareCheckTimeout != caddy.Duration(2*time.Second) {
		t.Fatalf("spare_check: got %+v", u)
	}
	err = new(Handler).UnmarshalCaddyfile(caddyfile.NewTestDispenser("mcp_proxy {\nstdio cmd {\nspare_check initialize\n}\n}"))
	if err == nil || !strings.Contains(err.Error(), `spare_check must be ping or off, got "initialize"`) || !strings.Contains(err.Error(), "Testfile:3") {
		t.Fatalf("bad spare_check: got %v", err)
	}
	err = new(Handler).UnmarshalCaddyfile(caddyfile.NewTestDispenser("mcp_proxy {\nstdio cmd {\nprotocol newest\n}\n}"))
	if err == nil || !strings.Contains(err.Error(), `protocol must be legacy, modern or auto, got "newest"`) || !strings.Contains(err.Error(), "Testfile:3") {
		t.Fatalf("got %v", err)
	}
}

// TestUnmarshalCaddyfileHTTPTransport covers the MCP transport of an http
// upstream.
func TestUnmarshalCaddyfileHTTPTransport(t *testing.T) {
	for _, mode := range []string{"streamable", "sse", "auto"} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("mcp_proxy {\nhttp http://x/sse {\ntransport " + mode + "\n}\n}"))
		if err != nil || h.Upstreams[0].HTTP.MCPTransport != mode {
			t.Fatalf("transport %s: %v, %+v", mode, err, h.Upstreams[0].HTTP)
		}
	}
	var h Handler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("mcp_proxy {\nhttp http://x/mcp\n}")); err != nil || h.Upstreams[0].HTTP.MCPTransport != "" {
		t.Fatalf("default: %v, %q", err, h.Upstreams[0].HTTP.MCPTransport)
	}
	for _, tt := range []struct{ input, want string }{
		{"transport websocket", `transport must be streamable, sse or auto, got "websocket"`},
		{`transport ""`, `transport must be streamable, sse or auto, got ""`},
		{"transport", "transport needs one argument"},
		{"transport sse auto", "transport takes one argument, got 2: sse auto"},
	} {
		err := new(Handler).UnmarshalCaddyfile(caddyfile.NewTestDispenser("mcp_proxy {\nhttp http://x/mcp {\n" + tt.input + "\n}\n}"))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "Testfile:3") {
			t.Fatalf("%s: got %v, want %q at Testfile:3", tt.input, err, tt.want)
		}
	}
	// The JSON config is checked when the upstream is built (Provision).
	if _, err := (&HTTPUpstream{URL: "http://x/mcp", MCPTransport: "websocket"}).build(caddy.Context{}, "test", 0, 0, false); err == nil ||
		!strings.Contains(err.Error(), `mcp_transport must be streamable, sse or auto, got "websocket"`) {
		t.Fatalf("JSON config with a bad mcp_transport: %v", err)
	}
}
