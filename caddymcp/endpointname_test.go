package caddymcp

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// mcpProxyNames adapts a Caddyfile and returns the names of its mcp_proxy
// handlers, in the order of the JSON.
func mcpProxyNames(t *testing.T, caddyfile string) []string {
	t.Helper()
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapting: %v", err)
	}
	var doc any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	var names []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["handler"] == "mcp_proxy" {
				name, _ := v["name"].(string)
				names = append(names, name)
			}
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			slices.Sort(keys) // srv0 before srv1
			for _, k := range keys {
				walk(v[k])
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	return names
}

// TestSiteEndpointNames: the Caddyfile names an endpoint that has no name
// after what the operator wrote: the site's first address and the path of
// mcp_proxy's matcher when it matches one; a second mcp_proxy of the same
// name in one Caddyfile gets "#2"; a site on two listeners is one
// endpoint; a name given stays.
func TestSiteEndpointNames(t *testing.T) {
	const up = "{\n\t\tstdio cat\n\t}"
	for _, tc := range []struct {
		name, caddyfile string
		want            []string
	}{
		{"path matcher", "localhost:8080 {\n\tmcp_proxy /mcp " + up + "\n}", []string{"localhost:8080/mcp"}},
		{"no matcher", ":8080 {\n\tmcp_proxy " + up + "\n}", []string{":8080"}},
		{"catch-all", "http://example.com {\n\tmcp_proxy * " + up + "\n}", []string{"http://example.com"}},
		{"wildcard path", "example.com {\n\tmcp_proxy /tools/* " + up + "\n}", []string{"example.com/tools/*"}},
		{"named matcher with a path", "localhost:8080 {\n\t@mcp {\n\t\tpath /mcp\n\t\tmethod POST GET\n\t}\n\tmcp_proxy @mcp " + up + "\n}",
			[]string{"localhost:8080/mcp"}},
		{"named matcher without a path", "localhost:8080 {\n\t@mcp header X-MCP 1\n\tmcp_proxy @mcp " + up + "\n}", []string{"localhost:8080"}},
		{"named matcher with two paths", "localhost:8080 {\n\t@mcp path /a /b\n\tmcp_proxy @mcp " + up + "\n}", []string{"localhost:8080"}},
		{"several site addresses: the first", "localhost:8080, localhost:9090 {\n\tmcp_proxy /mcp " + up + "\n}",
			[]string{"localhost:8080/mcp", "localhost:8080/mcp"}},
		{"a name given", "localhost:8080 {\n\tmcp_proxy /mcp {\n\t\tname tools\n\t\tstdio cat\n\t}\n}", []string{"tools"}},
		{"two in handle blocks", "localhost:8080 {\n\thandle /a/* {\n\t\tmcp_proxy " + up + "\n\t}\n\thandle /b/* {\n\t\tmcp_proxy " + up + "\n\t}\n}",
			[]string{"localhost:8080", "localhost:8080#2"}},
		{"two sites", "a.example.com {\n\tmcp_proxy /mcp " + up + "\n}\nb.example.com {\n\tmcp_proxy /mcp " + up + "\n}",
			[]string{"a.example.com/mcp", "b.example.com/mcp"}},
		{"named route: the default", "&(tools) {\n\tmcp_proxy " + up + "\n}\nlocalhost:8080 {\n\tinvoke tools\n}", []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mcpProxyNames(t, tc.caddyfile)
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("names %q, want %q", got, want)
			}
		})
	}
	if got := strings.Join(mcpProxyNames(t, "localhost:8080 {\n\tmcp_proxy /mcp "+up+"\n}"), ""); got != "localhost:8080/mcp" {
		t.Errorf("a second adaptation names it %q: names must not carry over from one adaptation to the next", got)
	}
}
