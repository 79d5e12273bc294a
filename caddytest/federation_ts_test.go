package caddytest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// tsFederationResult is what interop_ts/federation_client.mjs prints.
type tsFederationResult struct {
	ServerName    string            `json:"serverName"`
	Tools         []string          `json:"tools"`
	Prompts       []string          `json:"prompts"`
	Resources     []string          `json:"resources"`
	Calls         map[string]string `json:"calls"`
	PromptTexts   map[string]string `json:"promptTexts"`
	ResourceTexts map[string]string `json:"resourceTexts"`
}

// tsFederationPlan is the calls the TypeScript client makes: one tool, one
// prompt and one resource of each server, each with the answer only that
// server gives (a prefix of it where the server adds a timestamp).
var tsFederationPlan = struct {
	tools     map[string]map[string]any
	answers   map[string]string
	prompts   map[string]string
	resources map[string]string
}{
	tools: map[string]map[string]any{
		"everything_echo":       {"message": "from ts"},
		"docs_echo":             {"text": "docs from ts"},
		"conf_test_simple_text": {},
	},
	answers: map[string]string{
		"everything_echo":       "Echo: from ts",
		"docs_echo":             "docs from ts",
		"conf_test_simple_text": "This is a simple text response for testing.",
	},
	prompts: map[string]string{
		"everything_simple-prompt": "This is a simple prompt without arguments.",
		"docs_summarize":           "sum",
		"conf_test_simple_prompt":  "This is a simple prompt for testing.",
	},
	resources: map[string]string{
		"demo://resource/dynamic/text/1": "Resource 1: This is a plaintext resource",
		"docs://readme":                  "the docs readme",
		"test://static-text":             "This is the content of the static text resource.",
	},
}

// TestFederationTSClient: three different servers behind one endpoint —
// server-everything (TypeScript) over stdio, a go-sdk server over HTTP and
// the go-sdk conformance everything-server over stdio — driven by the
// TypeScript SDK client, which sees every server's tools and prompts under
// its prefix and its resources under their own URIs, and whose calls,
// prompts/get and resources/read each reach the server that owns the name.
func TestFederationTSClient(t *testing.T) {
	requireIntegration(t)
	node := node20(t)
	nodeModule(t, "@modelcontextprotocol", "sdk", "package.json")
	everything := nodeModule(t, "@modelcontextprotocol", "server-everything", "dist", "index.js")
	conf := buildEverythingServer(t)
	docs := httptest.NewServer(goSDKHandler(newDocsServer()))
	defer docs.Close()
	base := startProxy(t, fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		server everything {
			stdio %s %s stdio {
				warm 0
			}
		}
		server docs {
			http %s
		}
		server conf {
			stdio %s {
				warm 0
			}
		}
		federate {
			server_name "Acme tools"
		}
	}
}
`, caddyfileQuote(node), caddyfileQuote(everything), caddyfileQuote(docs.URL), caddyfileQuote(conf)))

	r := runTSFederation(t, node, base+"/mcp")
	if r.ServerName != "Acme tools" {
		t.Errorf("serverInfo.name %q, want the federate server_name", r.ServerName)
	}
	checkFederatedNames(t, "tools", r.Tools, slices.Collect(maps.Keys(tsFederationPlan.tools)))
	checkFederatedNames(t, "prompts", r.Prompts, slices.Collect(maps.Keys(tsFederationPlan.prompts)))
	for uri := range tsFederationPlan.resources {
		if uri != "demo://resource/dynamic/text/1" && !slices.Contains(r.Resources, uri) {
			t.Errorf("resources/list has no %s: %v", uri, r.Resources)
		}
	}
	if !slices.ContainsFunc(r.Resources, func(u string) bool { return strings.HasPrefix(u, "demo://resource/static/document/") }) {
		t.Errorf("resources/list has none of server-everything's documents: %v", r.Resources)
	}
	for name, want := range tsFederationPlan.answers {
		if got := r.Calls[name]; got != want {
			t.Errorf("tools/call %s: %q, want %q", name, got, want)
		}
	}
	for name, want := range tsFederationPlan.prompts {
		if got := r.PromptTexts[name]; got != want {
			t.Errorf("prompts/get %s: %q, want %q", name, got, want)
		}
	}
	for uri, want := range tsFederationPlan.resources {
		if got := r.ResourceTexts[uri]; !strings.HasPrefix(got, want) {
			t.Errorf("resources/read %s: %q, want it to start with %q", uri, got, want)
		}
	}
}

// checkFederatedNames checks that a merged list holds every wanted name and
// that each of its names carries one of the three servers' prefixes.
func checkFederatedNames(t *testing.T, list string, got, want []string) {
	t.Helper()
	for _, name := range want {
		if !slices.Contains(got, name) {
			t.Errorf("%s/list has no %s: %v", list, name, got)
		}
	}
	for _, name := range got {
		if !strings.HasPrefix(name, "everything_") && !strings.HasPrefix(name, "docs_") && !strings.HasPrefix(name, "conf_") {
			t.Errorf("%s/list: %q has no server prefix", list, name)
		}
	}
}

// runTSFederation runs interop_ts/federation_client.mjs against url with
// tsFederationPlan and returns what it printed.
func runTSFederation(t *testing.T, node, url string) tsFederationResult {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("interop_ts", "federation_client.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	type toolCall struct {
		Name      string         `json:"name"`
		Arguments map[string]any `json:"arguments"`
	}
	plan := struct {
		Tools     []toolCall `json:"tools"`
		Prompts   []string   `json:"prompts"`
		Resources []string   `json:"resources"`
	}{
		Prompts:   slices.Sorted(maps.Keys(tsFederationPlan.prompts)),
		Resources: slices.Sorted(maps.Keys(tsFederationPlan.resources)),
	}
	for _, name := range slices.Sorted(maps.Keys(tsFederationPlan.tools)) {
		plan.Tools = append(plan.Tools, toolCall{name, tsFederationPlan.tools[name]})
	}
	planJSON, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	defer cancel()
	run := runNode(ctx, node, script, url, string(planJSON))
	if run.Err != nil {
		t.Fatalf("TypeScript client against %s: %v\nstdout:\n%s\nstderr:\n%s", url, run.Err, run.Stdout, run.Stderr)
	}
	t.Logf("TypeScript client against three federated servers took %v", run.Duration.Round(time.Millisecond))
	var r tsFederationResult
	if err := json.Unmarshal([]byte(strings.TrimSpace(run.Stdout)), &r); err != nil {
		t.Fatalf("TypeScript client output is not one JSON object: %v\nstdout:\n%s\nstderr:\n%s", err, run.Stdout, run.Stderr)
	}
	return r
}
