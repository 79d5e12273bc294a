package caddymcp

import (
	"encoding/json"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

// An endpoint's name is what operators read wherever it shows — the admin
// API, the console, the endpoint label of the metrics, the logs, the tapes'
// headers — and the key of its session store, which a reload that keeps
// the name keeps. It is the name configured; else, from a Caddyfile, what
// the operator wrote: the site address and the mcp_proxy's path
// (siteEndpointName); else, in a JSON config, a short one from the
// upstreams (defaultEndpointName). Never a hash, a URL's user info, path or
// query, or an environment value.

// parseCaddyfile is what httpcaddyfile.RegisterHandlerDirective would do,
// with the matcher at hand to name the endpoint after the site and the
// path (endpointname.go) when the block gives no name.
func parseCaddyfile(h httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error) {
	if !h.Next() {
		return nil, h.ArgErr()
	}
	matcherSet, err := h.ExtractMatcherSet()
	if err != nil {
		return nil, err
	}
	m := new(Handler)
	if err := m.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	if m.Name == "" {
		m.Name = siteEndpointName(h, matcherSet)
	}
	return h.NewRoute(matcherSet, m), nil
}

// siteNamesKey keys, in an adaptation's httpcaddyfile.Helper.State, the
// names filled from sites so far, so that two mcp_proxy directives of one
// site (say, in two handle blocks) do not get the same.
const siteNamesKey = "mcp_proxy.site_names"

// siteEndpointName is the name of an mcp_proxy directive of the site h is
// in: its first address as written, and the path of its matcher if it
// matches one path (localhost:8080/mcp); "" in a named route (no site). A
// name already given in this adaptation gets "#2", "#3", … in the order of
// the Caddyfile.
func siteEndpointName(h httpcaddyfile.Helper, matcherSet caddy.ModuleMap) string {
	if h.IsNamedRoute() {
		return ""
	}
	site := firstSiteAddress(h)
	if site == "" {
		return ""
	}
	name := site + matcherPath(matcherSet)
	if h.State == nil {
		return name
	}
	taken, _ := h.State[siteNamesKey].(map[string]int)
	if taken == nil {
		taken = make(map[string]int)
		h.State[siteNamesKey] = taken
	}
	taken[name]++
	if n := taken[name]; n > 1 {
		return name + "#" + strconv.Itoa(n)
	}
	return name
}

// firstSiteAddress is the first address of the site block h is in, as
// written. httpcaddyfile.Helper keeps the block unexported in v2.11; it is
// read with reflection, and "" if a Caddy version moved it (the name then
// falls back to the default, and TestSiteEndpointNames fails).
func firstSiteAddress(h httpcaddyfile.Helper) string {
	keys := reflect.ValueOf(h).FieldByName("parentBlock")
	if !keys.IsValid() {
		return ""
	}
	if keys = keys.FieldByName("Keys"); !keys.IsValid() || keys.Kind() != reflect.Slice || keys.Len() == 0 {
		return ""
	}
	text := keys.Index(0).FieldByName("Text")
	if !text.IsValid() || text.Kind() != reflect.String {
		return ""
	}
	return text.String()
}

// matcherPath is the one path a matcher set matches, "" if it matches no
// path or several.
func matcherPath(set caddy.ModuleMap) string {
	var paths []string
	if raw, ok := set["path"]; !ok || json.Unmarshal(raw, &paths) != nil || len(paths) != 1 {
		return ""
	}
	return paths[0]
}

// defaultEndpointName is the name of an endpoint configured without one
// (in JSON): its upstreams', joined by commas.
func defaultEndpointName(ups []*UpstreamConfig) string {
	parts := make([]string, 0, len(ups))
	for _, u := range ups {
		parts = append(parts, u.endpointPart())
	}
	name := strings.Join(parts, ",")
	if len(name) > maxDefaultName {
		cut := maxDefaultName
		for cut > 0 && name[cut]&0xC0 == 0x80 {
			cut--
		}
		name = name[:cut] + "…"
	}
	if name == "" {
		return "mcp"
	}
	return name
}

// maxDefaultName bounds a default endpoint name in bytes.
const maxDefaultName = 64

// endpointPart names the upstream in a default endpoint name: stdio:<the
// program> (the package a launcher such as npx runs, else the executable's
// name), an HTTP upstream's host (and port when the URL names one),
// replay:<the tape's file name>.
func (u *UpstreamConfig) endpointPart() string {
	switch {
	case u.Stdio != nil:
		return "stdio:" + readable(programName(u.Stdio.Command, u.Stdio.Args))
	case u.Replay != nil:
		return "replay:" + readable(filepath.Base(u.Replay.Path))
	case u.HTTP != nil:
		pu, err := url.Parse(u.HTTP.URL)
		if err == nil && pu.Host != "" {
			return readable(pu.Host) // neither the user info, the path nor the query
		}
	}
	return "http"
}

// launchers are programs whose first argument that is not a flag (or a
// subcommand of theirs) names the program they run.
var launchers = map[string][]string{
	"npx": nil, "bunx": nil, "pnpx": nil, "uvx": nil, "node": nil, "bun": {"run", "x"}, "deno": {"run"},
	"python": nil, "python3": nil, "go": {"run"}, "uv": {"run", "tool"}, "pipx": {"run"},
	"npm": {"exec", "x"}, "pnpm": {"dlx", "exec"}, "yarn": {"dlx"},
}

// programName is what a stdio command runs: for a launcher, the base name
// of its first argument that is neither a flag, a flag's value written
// with '=', nor one of its subcommands, without a version or a script's
// extension (npx -y @modelcontextprotocol/server-everything@1.2:
// server-everything); else the executable's base name.
func programName(command string, args []string) string {
	base := filepath.Base(command)
	subcommands, ok := launchers[base]
	if !ok {
		return base
	}
	for i, a := range args {
		if strings.HasPrefix(a, "-") || strings.Contains(a, "=") || (i < 2 && slices.Contains(subcommands, a)) {
			continue
		}
		a, _, _ = strings.Cut(a, "?")
		a, _, _ = strings.Cut(a, "#")
		a = a[strings.LastIndexByte(a, '/')+1:]
		if at := strings.IndexByte(a, '@'); at > 0 {
			a = a[:at]
		}
		for _, ext := range []string{".js", ".mjs", ".cjs", ".ts", ".py"} {
			a = strings.TrimSuffix(a, ext)
		}
		if a != "" {
			return a
		}
	}
	return base
}

// readable is s without spaces or control characters, at most 48 bytes.
func readable(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return '_'
		}
		return r
	}, s)
	if len(s) > 48 {
		cut := 48
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		s = s[:cut]
	}
	return s
}
