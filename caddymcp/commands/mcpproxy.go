package commands

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/caddymcp"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "mcp-proxy",
		Usage: `--to <command line|URL> [--from <addr>] [--path <path>] [--name <name>] [--warm <n>] [--max-processes <n>] [--allowed-origin <origin>]... [--admin <addr>] [--access-log] [--debug]`,
		Short: "A quick MCP gateway in front of one stdio or HTTP MCP server",
		Long: `
Serves one MCP server over Streamable HTTP (and the 2024-11-05 HTTP+SSE
transport) at a single endpoint, with no Caddyfile. It prints the endpoint's
URL and serves until stopped (SIGINT or SIGTERM end streams cleanly and stop
every child process).

--to is either an http:// or https:// URL (a remote MCP server) or a command
line (a local stdio MCP server, one process per client session, warm spares
started ahead). The command line runs without a shell. It is split into words
at spaces, tabs and newlines, with these quoting rules:
  'single quotes'  keep everything inside literally;
  "double quotes"  keep everything inside, except that \" and \\ stand for
                   " and \;
  \c               outside quotes, a backslash keeps the next character c
                   literally (a space, a quote, a backslash).
Quotes may join parts of one word (--name="a b" is one word). Nothing else is
special: $VAR, *, |, > and ~ reach the command as they are.

--from is [scheme://][host][:port], default localhost:8080. A loopback host
(localhost, 127.0.0.1, ::1) is served on that loopback address only
(localhost binds 127.0.0.1). Any other path answers 404. Without a scheme, https is used for port
443 and for a domain name without a port (Caddy gets it a certificate, as
caddy reverse-proxy does); everything else is http. A missing port is 80
for http and 443 for https. An IP address binds that address only; an empty
host (":8080") binds every interface; a domain name binds every interface
and serves only requests for that name.

--path is the endpoint's path (default /mcp). --warm and --max-processes size
the stdio process pool (defaults 1 and 16). --allowed-origin (repeatable)
accepts browser Origins besides loopback ones and the endpoint's own. --name
names the endpoint (its session store, and the name in logs).

The admin endpoint is off, as with caddy reverse-proxy, so the command never
competes for localhost:2019; --admin <addr> turns it on at that address
(e.g. for caddy stop --address, or the /mcp_proxy/ routes). The config is not
persisted.
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().StringP("to", "t", "", "The MCP server: a command line to run over stdio, or an http(s):// URL")
			cmd.Flags().StringP("from", "f", defaultFrom, "Address on which to serve the endpoint")
			cmd.Flags().String("path", defaultPath, "Path of the MCP endpoint")
			cmd.Flags().String("name", "", "Name of the endpoint (default: --from and --path, e.g. localhost:8080/mcp)")
			cmd.Flags().Int("warm", 0, "Spare stdio processes kept started ahead (default 1; 0 for none)")
			cmd.Flags().Int("max-processes", 0, "Most live stdio processes, spares included (default 16)")
			cmd.Flags().StringArray("allowed-origin", nil, "An Origin to accept besides loopback origins and the endpoint's own (repeatable; * for any)")
			cmd.Flags().String("admin", "", "Serve Caddy's admin endpoint at this address (default: off)")
			cmd.Flags().Bool("access-log", false, "Enable the access log")
			cmd.Flags().BoolP("debug", "v", false, "Enable verbose debug logs")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdMCPProxy)
		},
	})
}

// Defaults of the quick command.
const (
	defaultFrom = "localhost:8080"
	defaultPath = "/mcp"
)

// proxyOptions are the quick command's flags.
type proxyOptions struct {
	to             string
	from           string
	path           string
	name           string
	warm           *int // nil: the module's default
	maxProcesses   *int // nil: the module's default
	allowedOrigins []string
	admin          string
	accessLog      bool
	debug          bool
}

func cmdMCPProxy(fs caddycmd.Flags) (int, error) {
	caddy.TrapSignals()

	opts, err := proxyOptionsFromFlags(fs)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	cfg, endpoint, err := opts.config()
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if err := caddy.Run(cfg); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	caddy.Log().Info("serving MCP", zap.String("endpoint", endpoint))
	// The line a user (or a script) waits for; stdout, unlike the logs.
	fmt.Fprintf(os.Stdout, "MCP endpoint: %s\n", endpoint)
	select {}
}

// proxyOptionsFromFlags reads the flags; a count flag counts only when given.
func proxyOptionsFromFlags(fs caddycmd.Flags) (proxyOptions, error) {
	opts := proxyOptions{
		to:        fs.String("to"),
		from:      fs.String("from"),
		path:      fs.String("path"),
		name:      fs.String("name"),
		admin:     fs.String("admin"),
		accessLog: fs.Bool("access-log"),
		debug:     fs.Bool("debug"),
	}
	var err error
	if opts.allowedOrigins, err = fs.GetStringArray("allowed-origin"); err != nil {
		return opts, fmt.Errorf("--allowed-origin: %v", err)
	}
	for _, c := range []struct {
		name string
		dst  **int
	}{{"warm", &opts.warm}, {"max-processes", &opts.maxProcesses}} {
		if !fs.Changed(c.name) {
			continue
		}
		n, err := fs.GetInt(c.name)
		if err != nil {
			return opts, fmt.Errorf("--%s: %v", c.name, err)
		}
		*c.dst = &n
	}
	return opts, nil
}

// config builds the Caddy config that serves the endpoint, from the
// module's own types so that it means exactly what the same Caddyfile
// would, and returns it with the endpoint's URL.
func (o proxyOptions) config() (*caddy.Config, string, error) {
	handler, err := o.handler()
	if err != nil {
		return nil, "", err
	}
	from, err := parseFrom(o.from)
	if err != nil {
		return nil, "", err
	}
	path := o.path
	if path == "" {
		path = defaultPath
	}
	if !strings.HasPrefix(path, "/") {
		return nil, "", fmt.Errorf("--path must start with /, got %q", path)
	}
	if handler.Name == "" {
		// What the operator wrote, as a Caddyfile site would name it.
		handler.Name = cmp.Or(strings.TrimSpace(o.from), defaultFrom) + path
	}

	route := caddyhttp.Route{
		MatcherSetsRaw: []caddy.ModuleMap{{"path": caddyconfig.JSON(caddyhttp.MatchPath{path}, nil)}},
		HandlersRaw:    []json.RawMessage{caddyconfig.JSONModuleObject(handler, "handler", "mcp_proxy", nil)},
		Terminal:       true,
	}
	if from.hostMatcher {
		route.MatcherSetsRaw[0]["host"] = caddyconfig.JSON(caddyhttp.MatchHost{from.host}, nil)
	}
	// Without it a mistyped path would get Caddy's empty 200.
	notFound := caddyhttp.Route{HandlersRaw: []json.RawMessage{caddyconfig.JSONModuleObject(caddyhttp.StaticResponse{
		StatusCode: caddyhttp.WeakString(strconv.Itoa(http.StatusNotFound)),
		Headers:    http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
		Body:       "Not Found: the MCP endpoint is at " + path + "\n",
	}, "handler", "static_response", nil)}}
	server := &caddyhttp.Server{
		Routes: caddyhttp.RouteList{route, notFound},
		Listen: []string{from.listen},
	}
	if o.accessLog {
		server.Logs = &caddyhttp.ServerLogConfig{}
	}
	switch {
	case from.scheme == "http":
		server.AutoHTTPS = &caddyhttp.AutoHTTPSConfig{Disabled: true}
	case from.port != "443":
		// Redirects come from a server on port 80: only worth it (and
		// only likely to be allowed) for a site on the standard port.
		server.AutoHTTPS = &caddyhttp.AutoHTTPSConfig{DisableRedir: true}
	}
	httpApp := caddyhttp.App{Servers: map[string]*caddyhttp.Server{"mcp": server}}

	persist := false
	admin := &caddy.AdminConfig{Disabled: true, Config: &caddy.ConfigSettings{Persist: &persist}}
	if o.admin != "" {
		admin.Disabled, admin.Listen = false, o.admin
	}
	cfg := &caddy.Config{
		Admin:   admin,
		AppsRaw: caddy.ModuleMap{"http": caddyconfig.JSON(httpApp, nil)},
	}
	if o.debug {
		cfg.Logging = &caddy.Logging{Logs: map[string]*caddy.CustomLog{
			"default": {BaseLog: caddy.BaseLog{Level: zap.DebugLevel.CapitalString()}},
		}}
	}
	return cfg, from.endpoint(path), nil
}

// handler is the mcp_proxy handler the flags describe.
func (o proxyOptions) handler() (*caddymcp.Handler, error) {
	h := &caddymcp.Handler{Name: o.name, AllowedOrigins: o.allowedOrigins}
	to := strings.TrimSpace(o.to)
	if to == "" {
		return nil, errors.New(`--to is required: a command line such as "npx -y @modelcontextprotocol/server-everything", or an http(s):// URL`)
	}
	if scheme, _, ok := strings.Cut(to, "://"); ok && !strings.ContainsAny(scheme, " \t\n\r") {
		up, err := httpUpstreamFromURL(to)
		if err != nil {
			return nil, err
		}
		if o.warm != nil || o.maxProcesses != nil {
			return nil, errors.New("--warm and --max-processes size a stdio process pool; --to is a URL")
		}
		h.Upstreams = []*caddymcp.UpstreamConfig{{HTTP: up}}
		return h, nil
	}
	words, err := splitCommandLine(to)
	if err != nil {
		return nil, fmt.Errorf("--to: %v", err)
	}
	up := &caddymcp.StdioUpstream{Command: words[0], Args: words[1:]}
	if o.warm != nil {
		if *o.warm < 0 {
			return nil, fmt.Errorf("--warm must be 0 or more, got %d", *o.warm)
		}
		up.Warm = o.warm
	}
	if o.maxProcesses != nil {
		if *o.maxProcesses < 1 {
			return nil, fmt.Errorf("--max-processes must be 1 or more, got %d", *o.maxProcesses)
		}
		up.MaxProcesses = *o.maxProcesses
	}
	if up.Warm != nil && up.MaxProcesses > 0 && *up.Warm > up.MaxProcesses {
		return nil, fmt.Errorf("--warm (%d) must not exceed --max-processes (%d): spares count toward it", *up.Warm, up.MaxProcesses)
	}
	h.Upstreams = []*caddymcp.UpstreamConfig{{Stdio: up}}
	return h, nil
}

// httpUpstreamFromURL checks an upstream URL given to --to.
func httpUpstreamFromURL(raw string) (*caddymcp.HTTPUpstream, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url's error repeats the whole URL; the operator typed it.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("--to: not a valid URL: %v", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	default:
		return nil, fmt.Errorf("--to: a URL must be http:// or https://, got %s://", u.Scheme)
	}
	if u.User != nil {
		return nil, errors.New("--to: the URL has user info (user:password@): it would not be sent as credentials and would show in logs; " +
			"use a Caddyfile with header_up Authorization for the upstream's credentials")
	}
	if u.Host == "" {
		return nil, fmt.Errorf("--to: the URL %q has no host", raw)
	}
	return &caddymcp.HTTPUpstream{URL: u.String()}, nil
}

// fromAddress is where the endpoint is served.
type fromAddress struct {
	scheme      string
	host        string // as given ("" for every interface)
	port        string
	listen      string // the server's listen address
	hostMatcher bool   // serve only requests for host
}

// endpoint is the URL clients use.
func (f fromAddress) endpoint(path string) string {
	host := f.host
	switch {
	case host == "":
		host = "localhost"
	case strings.Contains(host, ":"):
		host = "[" + host + "]"
	}
	if (f.scheme == "http" && f.port == "80") || (f.scheme == "https" && f.port == "443") {
		return f.scheme + "://" + host + path
	}
	return f.scheme + "://" + host + ":" + f.port + path
}

// parseFrom applies the --from rules of the command's help text.
func parseFrom(from string) (fromAddress, error) {
	if from == "" {
		from = defaultFrom
	}
	addr, err := httpcaddyfile.ParseAddress(from)
	if err != nil {
		return fromAddress{}, fmt.Errorf("--from %q: %v", from, err)
	}
	if addr.Path != "" {
		return fromAddress{}, fmt.Errorf("--from %q: no path here (use --path)", from)
	}
	f := fromAddress{scheme: strings.ToLower(addr.Scheme), host: addr.Host, port: addr.Port}
	ip := net.ParseIP(f.host)
	loopback := strings.EqualFold(f.host, "localhost") || (ip != nil && ip.IsLoopback())
	domain := f.host != "" && ip == nil && !loopback
	switch f.scheme {
	case "http", "https":
	case "":
		f.scheme = "http"
		if f.port == "443" || (f.port == "" && domain) {
			f.scheme = "https"
		}
	default:
		return fromAddress{}, fmt.Errorf("--from %q: the scheme must be http or https", from)
	}
	if f.port == "" {
		f.port = "80"
		if f.scheme == "https" {
			f.port = "443"
		}
	}
	if n, err := strconv.Atoi(f.port); err != nil || n < 1 || n > 65535 {
		return fromAddress{}, fmt.Errorf("--from %q: the port must be a number from 1 to 65535", from)
	}
	bind := f.host
	switch {
	case strings.EqualFold(f.host, "localhost"):
		// One address, not whatever the resolver returns first.
		bind = "127.0.0.1"
	case domain:
		bind = ""
	}
	f.listen = net.JoinHostPort(bind, f.port)
	// A domain name (like caddy reverse-proxy's --from) and an https host
	// (whose certificate is named by the matcher) serve only their name.
	f.hostMatcher = domain || (f.scheme == "https" && f.host != "")
	return f, nil
}

// splitCommandLine splits a --to command line into words by the rules of
// the command's help text: whitespace separates words; single quotes keep
// everything literally; double quotes keep everything except \" and \\;
// outside quotes a backslash keeps the next character.
func splitCommandLine(s string) ([]string, error) {
	var (
		words  []string
		word   strings.Builder
		inWord bool
		quote  byte // 0, '\'' or '"'
	)
	// Bytes suffice: every special character is ASCII, and no byte of a
	// multi-byte UTF-8 character is.
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				word.WriteByte(c)
			}
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\'):
				i++
				word.WriteByte(s[i])
			default:
				word.WriteByte(c)
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '\\':
			if i+1 == len(s) {
				return nil, errors.New("the command line ends with a backslash that escapes nothing")
			}
			i++
			word.WriteByte(s[i])
			inWord = true
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("the command line has an unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, word.String())
	}
	if len(words) == 0 || words[0] == "" {
		return nil, errors.New("the command line names no command")
	}
	return words, nil
}
