package caddymcp_test

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	_ "github.com/caddy-mcp/caddy-mcp/caddymcp"
	_ "github.com/caddy-mcp/caddy-mcp/caddymcp/console"
	_ "github.com/caddy-mcp/caddy-mcp/caddymcp/mcpauth"
	_ "github.com/caddy-mcp/caddy-mcp/caddymcp/mcpmatcher"
	_ "github.com/caddy-mcp/caddy-mcp/caddymcp/stages"
)

// adaptError adapts a whole Caddyfile, as caddy adapt and caddy run do,
// and returns the error.
func adaptError(t *testing.T, src string) error {
	t.Helper()
	_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(src), map[string]any{"filename": "Caddyfile"})
	return err
}

// TestTypoSuggestions makes one typo in each block of each directive: the
// error names the file and line, the subdirective meant, and the valid
// ones.
func TestTypoSuggestions(t *testing.T) {
	proxy := func(lines string) string {
		return ":8080 {\n\tmcp_proxy /mcp {\n\t\tstdio cmd\n" + lines + "\n\t}\n}\n"
	}
	auth := func(lines string) string {
		return ":8080 {\n\tmcp_auth {\n\t\tresource https://m/mcp\n\t\tissuer https://i\n" + lines + "\n\t}\n\trespond ok\n}\n"
	}
	tests := []struct {
		block, src string
		line       string // where the typo is
		want       []string
	}{
		{"mcp_proxy", proxy("\t\tsesion_idle_timeout 1m"), "Caddyfile:4",
			[]string{"unrecognized mcp_proxy subdirective \"sesion_idle_timeout\"; did you mean `session_idle_timeout`?", "(mcp_proxy takes: allowed_hosts, allowed_origins, cache, cluster, fail_duration, federate, health_interval,"}},
		{"mcp_proxy lb", proxy("\t\thealth_intervall 5s"), "Caddyfile:4", []string{"did you mean `health_interval`?"}},
		{"stdio", ":8080 {\n\tmcp_proxy {\n\t\tstdio cmd {\n\t\t\twarn 2\n\t\t}\n\t}\n}\n", "Caddyfile:4",
			[]string{"unrecognized stdio subdirective \"warn\"; did you mean `warm`?", "(stdio takes: acquire_timeout, dir, env, idle_timeout,"}},
		{"stdio prefix", ":8080 {\n\tmcp_proxy {\n\t\tstdio cmd {\n\t\t\tenvironment A b\n\t\t}\n\t}\n}\n", "Caddyfile:4", []string{"did you mean `env`?"}},
		{"http", ":8080 {\n\tmcp_proxy {\n\t\thttp http://x/mcp {\n\t\t\ttransprot sse\n\t\t}\n\t}\n}\n", "Caddyfile:4",
			[]string{"unrecognized http subdirective \"transprot\"; did you mean `transport`?"}},
		{"auth client_credentials", ":8080 {\n\tmcp_proxy {\n\t\thttp https://x/mcp {\n\t\t\tauth client_credentials {\n\t\t\t\tclient_secrte x\n\t\t\t}\n\t\t}\n\t}\n}\n", "Caddyfile:5",
			[]string{"unrecognized auth client_credentials subdirective \"client_secrte\"; did you mean `client_secret`?"}},
		{"replay", ":8080 {\n\tmcp_proxy {\n\t\treplay t.jsonl {\n\t\t\tmach strict\n\t\t}\n\t}\n}\n", "Caddyfile:4", []string{"did you mean `match`?", "(replay takes: match, name)"}},
		{"record", proxy("\t\trecord /tmp/t {\n\t\t\tsmaple 0.5\n\t\t}"), "Caddyfile:5", []string{"unrecognized record subdirective \"smaple\"; did you mean `sample`?"}},
		{"tools", proxy("\t\ttools {\n\t\t\talow a\n\t\t}"), "Caddyfile:5", []string{"unrecognized tools subdirective \"alow\"; did you mean `allow`?", "(tools takes: allow, deny)"}},
		{"prompts", proxy("\t\tprompts {\n\t\t\tdney a\n\t\t}"), "Caddyfile:5", []string{"did you mean `deny`?"}},
		{"resources", proxy("\t\tresources {\n\t\t\tdeny_all a\n\t\t}"), "Caddyfile:5", []string{"did you mean `deny`?"}},
		{"intercept", proxy("\t\tintercept {\n\t\t\ttol a\n\t\t\tblock\n\t\t}"), "Caddyfile:5", []string{"unrecognized intercept subdirective \"tol\"; did you mean `tool`?"}},
		{"mcp_auth", auth("\t\tleway 5s"), "Caddyfile:5", []string{"unrecognized mcp_auth subdirective \"leway\"; did you mean `leeway`?"}},
		{"scope", auth("\t\tscope s {\n\t\t\ttools a\n\t\t}"), "Caddyfile:6", []string{"unrecognized scope subdirective \"tools\"; did you mean `tool`?"}},
		{"introspection_url", auth("\t\tintrospection_url https://i/x {\n\t\t\tclient_di c\n\t\t}"), "Caddyfile:6",
			[]string{"did you mean `client_id`?", "(introspection_url takes: cache_size, client_id, client_secret)"}},
		{"mcp matcher", ":8080 {\n\t@m mcp {\n\t\tmethd tools/call\n\t}\n\trespond @m ok\n}\n", "Caddyfile:3",
			[]string{"unrecognized mcp matcher subdirective \"methd\"; did you mean `method`?"}},
		{"mcp_console", ":8080 {\n\tmcp_console {\n\t\tpath /x\n\t}\n}\n", "Caddyfile:3", []string{"mcp_console takes no block"}},
		{"nothing close", proxy("\t\tupstream x"), "Caddyfile:4", []string{"unrecognized mcp_proxy subdirective \"upstream\" (mcp_proxy takes: allowed_hosts,"}},
	}
	for _, tt := range tests {
		t.Run(tt.block, func(t *testing.T) {
			err := adaptError(t, tt.src)
			if err == nil {
				t.Fatal("adapted without an error")
			}
			for _, want := range append(tt.want, tt.line) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\ndoes not contain %q", err, want)
				}
			}
		})
	}
}

// TestDurationForms: a duration or size is what Caddy accepts, and one
// that is not says the form.
func TestDurationForms(t *testing.T) {
	proxy := func(line string) string {
		return ":8080 {\n\tmcp_proxy {\n\t\tstdio cmd {\n\t\t\t" + line + "\n\t\t}\n\t}\n}\n"
	}
	for _, ok := range []string{"idle_timeout 10m", "idle_timeout 1h30m", "idle_timeout 2d", "idle_timeout 1.5h"} {
		if err := adaptError(t, proxy(ok)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	tests := []struct{ line, want string }{
		{"idle_timeout 10 minutes", "idle_timeout takes one duration, got `10 minutes`: a duration is a number with a unit, like 10m, 90s, 1h30m or 2d"},
		{"idle_timeout 10min", `idle_timeout: invalid duration "10min": a duration is a number with a unit, like 10m`},
		{"idle_timeout", "idle_timeout needs a duration: a duration is a number with a unit"},
	}
	for _, tt := range tests {
		err := adaptError(t, proxy(tt.line))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "Caddyfile:4") {
			t.Errorf("%s: error %v, want %q at Caddyfile:4", tt.line, err, tt.want)
		}
	}
	err := adaptError(t, ":8080 {\n\tmcp_proxy {\n\t\tstdio cmd\n\t\tmax_message_size 4 MB\n\t}\n}\n")
	if want := "max_message_size takes one size, got `4 MB`: a size is a number with a unit in one word, like 4MB"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("max_message_size 4 MB: error %v, want %q", err, want)
	}
}

// TestRegexpGlobs: a pattern on a name that reads as a regexp is refused
// at its line, with the dialect and the glob meant, wherever names are
// matched; on URIs the same forms load (they are warned of).
func TestRegexpGlobs(t *testing.T) {
	proxy := func(lines string) string {
		return ":8080 {\n\tmcp_proxy /mcp {\n\t\tstdio cmd\n" + lines + "\n\t}\n}\n"
	}
	matcher := func(line string) string { return ":8080 {\n\t@m mcp {\n\t\t" + line + "\n\t}\n\trespond @m ok\n}\n" }
	scope := func(line string) string {
		return ":8080 {\n\tmcp_auth {\n\t\tresource https://m/mcp\n\t\tissuer https://i\n\t\tscope s {\n\t\t\t" + line + "\n\t\t}\n\t}\n\trespond ok\n}\n"
	}
	dialect := "patterns are globs: `*` matches any run of characters and every other character matches itself"
	refused := []struct {
		name, src, line, want string
	}{
		{"tools deny ?", proxy("\t\ttools {\n\t\t\tdeny get-?nv\n\t\t}"), "Caddyfile:5", "did you mean `get-*nv`?"},
		{"tools deny class", proxy("\t\ttools {\n\t\t\tdeny get-[a-z]*\n\t\t}"), "Caddyfile:5", "did you mean `get-*`?"},
		{"prompts allow anchors", proxy("\t\tprompts {\n\t\t\tallow ^greet$\n\t\t}"), "Caddyfile:5", "did you mean `greet`?"},
		{"intercept tool .*", proxy("\t\tintercept {\n\t\t\ttool get-.*\n\t\t\tblock\n\t\t}"), "Caddyfile:5", "did you mean `get-*`?"},
		{"intercept prompt alternatives", proxy("\t\tintercept {\n\t\t\tprompt (a|b)_x\n\t\t\tblock\n\t\t}"), "Caddyfile:5", "did you mean `a_x b_x`?"},
		{"intercept method", proxy("\t\tintercept {\n\t\t\tmethod tools/.*\n\t\t\tblock\n\t\t}"), "Caddyfile:5", "did you mean `tools/*`?"},
		{"matcher tool", matcher(`tool get_\d+`), "Caddyfile:3", "did you mean `get_*`?"},
		{"scope tool", scope("tool .*_admin"), "Caddyfile:6", "did you mean `*_admin`?"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			err := adaptError(t, tt.src)
			for _, want := range []string{tt.want, dialect, tt.line} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v\ndoes not contain %q", err, want)
				}
			}
		})
	}
	loaded := []struct{ name, src string }{
		{"resources deny .*", proxy("\t\tresources {\n\t\t\tdeny file:///secret/.*\n\t\t}")},
		{"resources deny ? and [", proxy("\t\tresources {\n\t\t\tdeny https://x/q?id=[1]\n\t\t}")},
		{"intercept resource anchors", proxy("\t\tintercept {\n\t\t\tresource ^file:///etc/passwd$\n\t\t\tblock\n\t\t}")},
		{"matcher tool URI", matcher("tool file:///.*")},
		{"dotted namespace", proxy("\t\ttools {\n\t\t\tdeny github.*\n\t\t}")},
	}
	for _, tt := range loaded {
		if err := adaptError(t, tt.src); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}
