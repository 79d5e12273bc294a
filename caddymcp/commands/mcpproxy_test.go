package commands

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-mcp/caddy-mcp/caddymcp"
)

// builtProxy is what a test reads back out of the quick command's config.
type builtProxy struct {
	endpoint string
	server   *caddyhttp.Server
	matchers map[string]json.RawMessage
	handler  caddymcp.Handler
	admin    *caddy.AdminConfig
}

// buildProxy runs the flag → config translation and decodes the parts a
// test checks, the way Caddy will read them.
func buildProxy(t *testing.T, o proxyOptions) (builtProxy, error) {
	t.Helper()
	cfg, endpoint, err := o.config()
	if err != nil {
		return builtProxy{}, err
	}
	var app caddyhttp.App
	if err := json.Unmarshal(cfg.AppsRaw["http"], &app); err != nil {
		t.Fatal(err)
	}
	b := builtProxy{endpoint: endpoint, admin: cfg.Admin}
	if len(app.Servers) != 1 || app.Servers["mcp"] == nil {
		t.Fatalf("servers: %v", app.Servers)
	}
	b.server = app.Servers["mcp"]
	if len(b.server.Routes) != 2 || len(b.server.Routes[0].HandlersRaw) != 1 || len(b.server.Routes[0].MatcherSetsRaw) != 1 {
		t.Fatalf("routes: %+v", b.server.Routes)
	}
	if fallback := b.server.Routes[1]; len(fallback.MatcherSetsRaw) != 0 || len(fallback.HandlersRaw) != 1 ||
		!strings.Contains(string(fallback.HandlersRaw[0]), `"status_code":404`) {
		t.Fatalf("the route after the endpoint's is not a 404 for every other path: %+v", fallback)
	}
	if !b.server.Routes[0].Terminal {
		t.Fatal("the endpoint's route is not terminal: the 404 route after it could answer too")
	}
	b.matchers = b.server.Routes[0].MatcherSetsRaw[0]
	raw := b.server.Routes[0].HandlersRaw[0]
	var module struct {
		Handler string `json:"handler"`
	}
	if err := json.Unmarshal(raw, &module); err != nil || module.Handler != "mcp_proxy" {
		t.Fatalf("handler module %q (%v) in %s", module.Handler, err, raw)
	}
	if err := json.Unmarshal(raw, &b.handler); err != nil {
		t.Fatal(err)
	}
	return b, nil
}

func TestProxyCommandUpstream(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    proxyOptions
		stdio   *caddymcp.StdioUpstream
		http    *caddymcp.HTTPUpstream
		wantErr string
	}{
		{name: "stdio with args", opts: proxyOptions{to: "npx -y @modelcontextprotocol/server-everything"},
			stdio: &caddymcp.StdioUpstream{Command: "npx", Args: []string{"-y", "@modelcontextprotocol/server-everything"}}},
		{name: "stdio whitespace runs", opts: proxyOptions{to: "  node\t server.js \n stdio "},
			stdio: &caddymcp.StdioUpstream{Command: "node", Args: []string{"server.js", "stdio"}}},
		{name: "single quotes are literal", opts: proxyOptions{to: `run 'a b' 'x\y "z"' ''`},
			stdio: &caddymcp.StdioUpstream{Command: "run", Args: []string{"a b", `x\y "z"`, ""}}},
		{name: "double quotes escape quote and backslash only", opts: proxyOptions{to: `run "a \"b\" c\\d \n $HOME"`},
			stdio: &caddymcp.StdioUpstream{Command: "run", Args: []string{`a "b" c\d \n $HOME`}}},
		{name: "quotes join parts of a word", opts: proxyOptions{to: `run --name="a b"x 'c'"d"`},
			stdio: &caddymcp.StdioUpstream{Command: "run", Args: []string{"--name=a bx", "cd"}}},
		{name: "backslash outside quotes", opts: proxyOptions{to: `/opt/my\ server/bin \'x \\`},
			stdio: &caddymcp.StdioUpstream{Command: "/opt/my server/bin", Args: []string{"'x", `\`}}},
		{name: "a URL argument is still a command line", opts: proxyOptions{to: "python -m srv --upstream=https://x/mcp"},
			stdio: &caddymcp.StdioUpstream{Command: "python", Args: []string{"-m", "srv", "--upstream=https://x/mcp"}}},
		{name: "no shell", opts: proxyOptions{to: "server *.json | tee > out ~"},
			stdio: &caddymcp.StdioUpstream{Command: "server", Args: []string{"*.json", "|", "tee", ">", "out", "~"}}},
		{name: "unterminated double quote", opts: proxyOptions{to: `run "a b`}, wantErr: `unterminated " quote`},
		{name: "unterminated single quote", opts: proxyOptions{to: `run 'a b`}, wantErr: `unterminated ' quote`},
		{name: "trailing backslash", opts: proxyOptions{to: `run a\`}, wantErr: "ends with a backslash"},
		{name: "empty command word", opts: proxyOptions{to: `'' x`}, wantErr: "names no command"},
		{name: "empty", opts: proxyOptions{}, wantErr: "--to is required"},
		{name: "blank", opts: proxyOptions{to: " \t"}, wantErr: "--to is required"},

		{name: "warm and max processes", opts: proxyOptions{to: "srv", warm: intPtr(3), maxProcesses: intPtr(8)},
			stdio: &caddymcp.StdioUpstream{Command: "srv", Warm: intPtr(3), MaxProcesses: 8}},
		{name: "warm 0 means none", opts: proxyOptions{to: "srv", warm: intPtr(0)},
			stdio: &caddymcp.StdioUpstream{Command: "srv", Warm: intPtr(0)}},
		{name: "negative warm", opts: proxyOptions{to: "srv", warm: intPtr(-1)}, wantErr: "--warm must be 0 or more, got -1"},
		{name: "zero max processes", opts: proxyOptions{to: "srv", maxProcesses: intPtr(0)}, wantErr: "--max-processes must be 1 or more, got 0"},
		{name: "warm above max processes", opts: proxyOptions{to: "srv", warm: intPtr(5), maxProcesses: intPtr(2)},
			wantErr: "--warm (5) must not exceed --max-processes (2)"},

		{name: "https URL", opts: proxyOptions{to: "https://mcp.example.com/mcp"},
			http: &caddymcp.HTTPUpstream{URL: "https://mcp.example.com/mcp"}},
		{name: "http URL with port and query", opts: proxyOptions{to: " http://127.0.0.1:3001/mcp?x=1 "},
			http: &caddymcp.HTTPUpstream{URL: "http://127.0.0.1:3001/mcp?x=1"}},
		{name: "URL with user info", opts: proxyOptions{to: "https://me:secret@mcp.example.com/mcp"},
			wantErr: "the URL has user info (user:password@): it would not be sent as credentials"},
		{name: "unparseable URL", opts: proxyOptions{to: "http://[::1/mcp"}, wantErr: "--to: not a valid URL: missing ']' in host"},
		{name: "bad port in URL", opts: proxyOptions{to: "http://host:port/mcp"}, wantErr: "--to: not a valid URL"},
		{name: "URL without host", opts: proxyOptions{to: "https:///mcp"}, wantErr: "has no host"},
		{name: "other scheme", opts: proxyOptions{to: "ftp://host/mcp"}, wantErr: "a URL must be http:// or https://, got ftp://"},
		{name: "warm with a URL", opts: proxyOptions{to: "https://h/mcp", warm: intPtr(1)}, wantErr: "--warm and --max-processes size a stdio process pool"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := buildProxy(t, tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one that says %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			up := b.handler.Upstreams[0]
			if !reflect.DeepEqual(up.Stdio, tc.stdio) {
				t.Errorf("stdio %+v, want %+v", up.Stdio, tc.stdio)
			}
			if !reflect.DeepEqual(up.HTTP, tc.http) {
				t.Errorf("http %+v, want %+v", up.HTTP, tc.http)
			}
		})
	}
}

func TestProxyCommandFrom(t *testing.T) {
	for _, tc := range []struct {
		name      string
		from      string
		path      string
		endpoint  string
		listen    string
		host      []string // the host matcher, if any
		autoHTTPS *caddyhttp.AutoHTTPSConfig
		wantErr   string
	}{
		{name: "default", endpoint: "http://localhost:8080/mcp", listen: "127.0.0.1:8080",
			autoHTTPS: &caddyhttp.AutoHTTPSConfig{Disabled: true}},
		{name: "explicit loopback IP", from: "127.0.0.1:9123", endpoint: "http://127.0.0.1:9123/mcp", listen: "127.0.0.1:9123",
			autoHTTPS: &caddyhttp.AutoHTTPSConfig{Disabled: true}},
		{name: "IPv6 loopback", from: "[::1]:9123", endpoint: "http://[::1]:9123/mcp", listen: "[::1]:9123",
			autoHTTPS: &caddyhttp.AutoHTTPSConfig{Disabled: true}},
		{name: "localhost without port", from: "localhost", endpoint: "http://localhost/mcp", listen: "127.0.0.1:80",
			autoHTTPS: &caddyhttp.AutoHTTPSConfig{Disabled: true}},
		{name: "every interface only when named", from: ":8080", path: "/x/mcp", endpoint: "http://localhost:8080/x/mcp", listen: ":8080",
			autoHTTPS: &caddyhttp.AutoHTTPSConfig{Disabled: true}},
		{name: "an interface's IP", from: "192.0.2.7:8080", endpoint: "http://192.0.2.7:8080/mcp", listen: "192.0.2.7:8080",
			autoHTTPS: &caddyhttp.AutoHTTPSConfig{Disabled: true}},
		{name: "domain gets https", from: "mcp.example.com", endpoint: "https://mcp.example.com/mcp", listen: ":443",
			host: []string{"mcp.example.com"}},
		{name: "domain over http", from: "http://mcp.example.com:8080", endpoint: "http://mcp.example.com:8080/mcp", listen: ":8080",
			host: []string{"mcp.example.com"}, autoHTTPS: &caddyhttp.AutoHTTPSConfig{Disabled: true}},
		{name: "https on loopback", from: "https://localhost:8443", endpoint: "https://localhost:8443/mcp", listen: "127.0.0.1:8443",
			host: []string{"localhost"}, autoHTTPS: &caddyhttp.AutoHTTPSConfig{DisableRedir: true}},
		{name: "path in from", from: "localhost:8080/mcp", wantErr: "no path here (use --path)"},
		{name: "other scheme", from: "ws://localhost:8080", wantErr: "the scheme must be http or https"},
		{name: "port out of range", from: "localhost:99999", wantErr: "out of range"},
		{name: "port 0", from: "localhost:0", wantErr: "the port must be a number from 1 to 65535"},
		{name: "relative path", from: "localhost:8080", path: "mcp", wantErr: "--path must start with /"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := buildProxy(t, proxyOptions{to: "srv", from: tc.from, path: tc.path})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one that says %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.endpoint != tc.endpoint {
				t.Errorf("endpoint %q, want %q", b.endpoint, tc.endpoint)
			}
			if !reflect.DeepEqual(b.server.Listen, []string{tc.listen}) {
				t.Errorf("listen %q, want [%q]", b.server.Listen, tc.listen)
			}
			if !reflect.DeepEqual(b.server.AutoHTTPS, tc.autoHTTPS) {
				t.Errorf("auto HTTPS %+v, want %+v", b.server.AutoHTTPS, tc.autoHTTPS)
			}
			var path caddyhttp.MatchPath
			if err := json.Unmarshal(b.matchers["path"], &path); err != nil {
				t.Fatalf("path matcher %s: %v", b.matchers["path"], err)
			}
			want := tc.path
			if want == "" {
				want = "/mcp"
			}
			if !reflect.DeepEqual(path, caddyhttp.MatchPath{want}) {
				t.Errorf("path matcher %v, want [%s]", path, want)
			}
			var host caddyhttp.MatchHost
			if raw, ok := b.matchers["host"]; ok {
				if err := json.Unmarshal(raw, &host); err != nil {
					t.Fatal(err)
				}
			}
			if !reflect.DeepEqual([]string(host), tc.host) {
				t.Errorf("host matcher %v, want %v", host, tc.host)
			}
		})
	}
}

func TestProxyCommandSettings(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		b, err := buildProxy(t, proxyOptions{to: "srv"})
		if err != nil {
			t.Fatal(err)
		}
		// Caddy's admin endpoint off, as caddy reverse-proxy does, and
		// nothing persisted.
		if b.admin == nil || !b.admin.Disabled || b.admin.Config == nil || b.admin.Config.Persist == nil || *b.admin.Config.Persist {
			t.Errorf("admin %+v, want disabled and not persisted", b.admin)
		}
		if b.server.Logs != nil {
			t.Errorf("access log on without --access-log: %+v", b.server.Logs)
		}
		if b.handler.AllowedOrigins != nil {
			t.Errorf("handler %+v has settings nobody asked for", b.handler)
		}
		// Named after what was written, as a Caddyfile site would be.
		if b.handler.Name != "localhost:8080/mcp" {
			t.Errorf("endpoint name %q, want localhost:8080/mcp (--from and --path)", b.handler.Name)
		}
		if b, _ := buildProxy(t, proxyOptions{to: "srv", from: ":9000", path: "/tools"}); b.handler.Name != ":9000/tools" {
			t.Errorf("endpoint name %q, want :9000/tools", b.handler.Name)
		}
	})
	t.Run("flags", func(t *testing.T) {
		o := proxyOptions{to: "srv", name: "everything", admin: "127.0.0.1:2199", accessLog: true, debug: true,
			allowedOrigins: []string{"https://app.example.com", "http://localhost:5173"}}
		cfg, _, err := o.config()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := buildProxy(t, o)
		if b.admin.Disabled || b.admin.Listen != "127.0.0.1:2199" {
			t.Errorf("admin %+v, want on at 127.0.0.1:2199", b.admin)
		}
		if b.server.Logs == nil {
			t.Error("no access log with --access-log")
		}
		if b.handler.Name != "everything" || !reflect.DeepEqual(b.handler.AllowedOrigins, o.allowedOrigins) {
			t.Errorf("handler name %q, origins %v", b.handler.Name, b.handler.AllowedOrigins)
		}
		if cfg.Logging == nil || cfg.Logging.Logs["default"] == nil || cfg.Logging.Logs["default"].Level != "DEBUG" {
			t.Errorf("logging %+v, want the default log at DEBUG", cfg.Logging)
		}
	})
}

// intPtr is a pointer to n, for the optional settings.
func intPtr(n int) *int { return &n }
