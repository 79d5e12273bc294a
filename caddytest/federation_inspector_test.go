package caddytest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestFederationInspectorCLI: the MCP Inspector's CLI (a client of the
// TypeScript SDK's newer packages, pinned in package.json) lists and calls
// tools, gets a prompt and reads a resource of both servers behind one
// federated endpoint: server-everything over stdio and a go-sdk server
// over HTTP.
func TestFederationInspectorCLI(t *testing.T) {
	requireIntegration(t)
	node := node22(t) // the Inspector asks for Node 22
	inspector := nodeModule(t, "@modelcontextprotocol", "inspector", "clients", "launcher", "build", "index.js")
	everything := nodeModule(t, "@modelcontextprotocol", "server-everything", "dist", "index.js")
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
	}
}
`, caddyfileQuote(node), caddyfileQuote(everything), caddyfileQuote(docs.URL)))

	inspect := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, append([]string{inspector, "--cli", base + "/mcp", "--transport", "http"}, args...)...)
		out, err := cmd.Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("inspector %v: %v\n%s\n%s", args, err, out, stderr)
		}
		return string(out)
	}

	var tools struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	if out := inspect("--method", "tools/list"); json.Unmarshal([]byte(out), &tools) != nil {
		t.Fatalf("tools/list printed no JSON: %s", out)
	}
	names := map[string]bool{}
	for _, tool := range tools.Tools {
		names[tool.Name] = true
	}
	for _, want := range []string{"everything_echo", "docs_echo"} {
		if !names[want] {
			t.Errorf("tools/list has no %s: %v", want, names)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--method", "tools/call", "--tool-name", "everything_echo", "--tool-arg", "message=from inspector"}, "Echo: from inspector"},
		{[]string{"--method", "tools/call", "--tool-name", "docs_echo", "--tool-arg", "text=docs from inspector"}, "docs from inspector"},
		{[]string{"--method", "prompts/get", "--prompt-name", "everything_simple-prompt"}, "This is a simple prompt without arguments."},
		{[]string{"--method", "resources/read", "--uri", "docs://readme"}, "the docs readme"},
	} {
		if out := inspect(c.args...); !strings.Contains(out, c.want) {
			t.Errorf("inspector %v printed %s, want it to hold %q", c.args, out, c.want)
		}
	}
}
