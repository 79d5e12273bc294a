package caddytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	caddytester "github.com/caddyserver/caddy/v2/caddytest"

	// The caddyfile adapter.
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	// The standard modules the golden Caddyfiles use besides mcp_proxy
	// (reverse_proxy, respond, the matchers).
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

// This file holds the Caddyfile adapter's golden tests and the checks that
// bad Caddyfile input fails with its file and line, that the repository's
// Caddyfile.example adapts, and that validating a config spawns nothing.
// None of them needs the in-process Caddy except the control half of
// TestValidateDoesNotSpawn.

var updateGoldens = flag.Bool("update", false, "rewrite the JSON half of testdata/adapt/*.caddyfiletest from the adapter's output")

// goldenSeparator splits a .caddyfiletest file (the format of Caddy's own
// caddytest/integration/caddyfile_adapt) into the Caddyfile and the JSON
// the caddyfile adapter must turn it into.
const goldenSeparator = "----------"

// adaptCaddyfile runs the caddyfile adapter as `caddy adapt` does, with
// filename as the file name that errors and warnings report.
func adaptCaddyfile(filename, body string) ([]byte, []caddyconfig.Warning, error) {
	return caddyconfig.GetAdapter("caddyfile").Adapt([]byte(body), map[string]any{"filename": filename})
}

// TestAdaptGoldens adapts every testdata/adapt/*.caddyfiletest and compares
// the result with the JSON below its separator. Together the files use every
// mcp_proxy subdirective, a path and a named matcher, and a site where
// mcp_proxy must be ordered before reverse_proxy. Run with -update to
// rewrite the JSON after a deliberate change, and review the diff.
func TestAdaptGoldens(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "adapt", "*.caddyfiletest"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/adapt/*.caddyfiletest files")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".caddyfiletest"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, expected, ok := strings.Cut(strings.ReplaceAll(string(data), "\r\n", "\n"), goldenSeparator)
			if !ok {
				t.Fatalf("%s: no %q line between the Caddyfile and the JSON", file, goldenSeparator)
			}
			input = strings.TrimSpace(input) + "\n"
			expected = strings.TrimSpace(expected)

			// Adapt once directly: for -update, and because CompareAdapt
			// only logs warnings (an unformatted golden Caddyfile is one).
			got, warnings, err := adaptCaddyfile(file, input)
			if err != nil {
				t.Fatalf("adapting %s: %v", file, err)
			}
			for _, w := range warnings {
				t.Errorf("warning: %s:%d: %s: %s", w.File, w.Line, w.Directive, w.Message)
			}
			if *updateGoldens {
				// Indented as CompareAdapt indents before it compares.
				var pretty bytes.Buffer
				if err := json.Indent(&pretty, got, "", "\t"); err != nil {
					t.Fatal(err)
				}
				expected = pretty.String()
				out := input + goldenSeparator + "\n" + expected + "\n"
				if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}

			if !caddytester.CompareAdapt(t, file, input, "caddyfile", expected) {
				t.Errorf("%s: the adapter's output differs from the golden JSON (diff on stdout above; "+
					"go test -run TestAdaptGoldens -update rewrites it)", file)
			}
		})
	}
}

// TestAdaptOrdersMCPProxyBeforeReverseProxy checks the directive order
// registered with httpcaddyfile without relying on the golden file: in a
// site with both handlers, the mcp_proxy route comes first whatever the
// order in the file.
func TestAdaptOrdersMCPProxyBeforeReverseProxy(t *testing.T) {
	for _, body := range []string{
		":8080 {\n\treverse_proxy localhost:9000\n\tmcp_proxy /mcp {\n\t\tstdio mcp-server\n\t}\n}\n",
		":8080 {\n\tmcp_proxy /mcp {\n\t\tstdio mcp-server\n\t}\n\treverse_proxy localhost:9000\n}\n",
	} {
		out, _, err := adaptCaddyfile("Caddyfile", body)
		if err != nil {
			t.Fatalf("adapting:\n%s\n%v", body, err)
		}
		handlers := routeHandlers(t, out)
		if strings.Join(handlers, ",") != "mcp_proxy,reverse_proxy" {
			t.Errorf("route handlers in order = %v, want [mcp_proxy reverse_proxy]\ninput:\n%s\noutput: %s", handlers, body, out)
		}
	}
}

// routeHandlers lists, in order, the handlers of srv0's routes in the
// adapted JSON config out.
func routeHandlers(t *testing.T, out []byte) []string {
	t.Helper()
	var cfg struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Routes []struct {
						Handle []struct {
							Handler string `json:"handler"`
						} `json:"handle"`
					} `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	var handlers []string
	for _, r := range cfg.Apps.HTTP.Servers["srv0"].Routes {
		for _, h := range r.Handle {
			handlers = append(handlers, h.Handler)
		}
	}
	return handlers
}

// TestAdaptErrorsNameFileAndLine checks that bad mcp_proxy input fails
// adaptation (what `caddy adapt`, `caddy validate` and `caddy run` do
// first) with the file name, the line, and a message that says what is
// wrong.
func TestAdaptErrorsNameFileAndLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		line int
		want string
	}{
		{
			name: "unknown subdirective",
			body: ":8080 {\n\tmcp_proxy {\n\t\tstdio mcp-server\n\t\tupstream http://localhost:9000\n\t}\n}\n",
			line: 4,
			want: `unrecognized mcp_proxy subdirective "upstream"`,
		},
		{
			name: "unknown stdio subdirective",
			body: ":8080 {\n\tmcp_proxy {\n\t\tstdio mcp-server {\n\t\t\tenvironment A B\n\t\t}\n\t}\n}\n",
			line: 4,
			want: `unrecognized stdio subdirective "environment"`,
		},
		{
			name: "bad duration",
			body: ":8080 {\n\tmcp_proxy {\n\t\tstdio mcp-server\n\n\t\tsession_idle_timeout forever\n\t}\n}\n",
			line: 5,
			want: `session_idle_timeout: invalid duration "forever"`,
		},
		{
			name: "bad number",
			body: ":8080 {\n\tmcp_proxy {\n\t\tstdio mcp-server {\n\t\t\tmax_processes 0\n\t\t}\n\t}\n}\n",
			line: 4,
			want: "max_processes must be a positive integer, got 0",
		},
		{
			name: "bad size",
			body: ":8080 {\n\tmcp_proxy {\n\t\tstdio mcp-server\n\t\tmax_message_size huge\n\t}\n}\n",
			line: 4,
			want: `max_message_size: invalid size "huge"`,
		},
		{
			name: "missing stdio command",
			body: ":8080 {\n\tmcp_proxy {\n\t\tstdio\n\t}\n}\n",
			line: 3,
			want: "stdio needs a command",
		},
		{
			name: "no upstream",
			body: ":8080 {\n\tmcp_proxy\n}\n",
			line: 2,
			want: "mcp_proxy needs an upstream",
		},
		{
			name: "unknown selection policy",
			body: ":8080 {\n\tmcp_proxy {\n\t\tstdio a\n\t\tstdio b\n\t\tlb_policy fastest\n\t}\n}\n",
			line: 5,
			want: `lb_policy: unknown policy "fastest"`,
		},
		{
			// Not a matcher token (a path, *, or @name), so httpcaddyfile
			// leaves it to the parser, which takes no other argument.
			name: "argument that is not a matcher",
			body: ":8080 {\n\tmcp_proxy foo bar {\n\t\tstdio mcp-server\n\t}\n}\n",
			line: 2,
			want: `"foo"`,
		},
		{
			// Caddy's own error, which names no line (line 0: not checked).
			name: "undefined named matcher",
			body: ":8080 {\n\tmcp_proxy @nope {\n\t\tstdio mcp-server\n\t}\n}\n",
			want: "unrecognized matcher name: @nope",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := adaptCaddyfile("Caddyfile", tc.body)
			if err == nil {
				t.Fatalf("adapting succeeded, want an error\ninput:\n%s", tc.body)
			}
			wants := []string{tc.want}
			if tc.line > 0 {
				wants = append(wants, fmt.Sprintf("Caddyfile:%d", tc.line))
			}
			for _, want := range wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

// TestAdaptCaddyfileExample checks that the repository's Caddyfile.example
// adapts without errors or warnings (it must be `caddy fmt`-clean) and
// keeps its mcp_proxy.
func TestAdaptCaddyfileExample(t *testing.T) {
	const file = "../Caddyfile.example"
	body, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out, warnings, err := adaptCaddyfile(file, string(body))
	if err != nil {
		t.Fatalf("adapting %s: %v", file, err)
	}
	for _, w := range warnings {
		t.Errorf("warning: %s:%d: %s: %s", w.File, w.Line, w.Directive, w.Message)
	}
	if !strings.Contains(string(out), `"handler":"mcp_proxy"`) {
		t.Errorf("%s adapts to a config without mcp_proxy:\n%s", file, out)
	}
	var cfg caddy.Config
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("%s adapts to JSON that caddy.Config does not take: %v", file, err)
	}
}

// TestValidateDoesNotSpawn checks that validating a config — `caddy
// validate`, which provisions every module and cleans it up without
// starting the apps — spawns no MCP server, even with warm spares
// configured. The control subtest runs the same config in the in-process
// Caddy, where the spares must start (so the check cannot pass because the
// marker command never works), then unloads it and waits for them to exit.
func TestValidateDoesNotSpawn(t *testing.T) {
	// Each process appends its pid (exec keeps it) to the marker file.
	marker := filepath.Join(t.TempDir(), "spawned")
	command := fmt.Sprintf(`/bin/sh -c "echo $$ >> '%s'; exec cat"`, marker)
	const warm = 2
	site := fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /validate {
		stdio %s {
			warm %d
		}
	}
}
`, command, warm)

	out, _, err := adaptCaddyfile("Caddyfile", caddyGlobals+site)
	if err != nil {
		t.Fatal(err)
	}
	var cfg caddy.Config
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := caddy.Validate(&cfg); err != nil {
		t.Fatalf("caddy.Validate: %v\nconfig: %s", err, out)
	}
	// A pool that started would spawn its spares at once; give a wrongly
	// started one time to show. A sleep: what is checked is that nothing
	// happens, so there is no condition to wait for.
	time.Sleep(time.Second)
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("validating the config started the stdio command (marker %s: %v)", marker, err)
	}

	t.Run("control", func(t *testing.T) {
		startProxy(t, site)
		var pids []int
		if !poll(10*time.Second, func() bool { pids = markerPIDs(t, marker); return len(pids) >= warm }) {
			t.Fatalf("running the config started %d of %d warm spares within 10s (pids %v in %s): "+
				"the check above proves nothing", len(pids), warm, pids, marker)
		}

		// Unload the endpoint; its spares must go.
		startProxy(t, siteAddr+" {\n\tbind 127.0.0.1\n\trespond 404\n}\n")
		deadline := time.Now().Add(20 * time.Second)
		for _, pid := range pids {
			if !poll(time.Until(deadline), func() bool { return syscall.Kill(pid, 0) != nil }) {
				t.Fatalf("spare process %d still runs 20s after its endpoint was unloaded", pid)
			}
		}
	})
}

// markerPIDs reads the pids that TestValidateDoesNotSpawn's command wrote.
func markerPIDs(t *testing.T, marker string) []int {
	t.Helper()
	b, err := os.ReadFile(marker)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	// Only whole lines: a spare may be writing its own right now.
	if i := strings.LastIndexByte(string(b), '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("marker %s: %q is not a pid", marker, f)
		}
		pids = append(pids, pid)
	}
	return pids
}
