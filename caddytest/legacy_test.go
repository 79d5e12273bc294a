package caddytest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// legacyResult is what the TypeScript SDK's HTTP+SSE client
// (interop_ts/legacy_client.mjs) observed in one 2024-11-05 session.
type legacyResult struct {
	ProtocolVersion string `json:"protocolVersion"`
	// GetStatus and GetContentType answer the GET that opened the stream.
	GetStatus      int    `json:"getStatus"`
	GetContentType string `json:"getContentType"`
	// Endpoint is the absolute URL the client POSTed to, resolved from the
	// endpoint event; SessionID is its sessionId parameter.
	Endpoint      string   `json:"endpoint"`
	SessionID     string   `json:"sessionId"`
	PostStatuses  []int    `json:"postStatuses"`
	Tools         []string `json:"tools"`
	SimpleText    string   `json:"simpleText"`
	ProgressCount int      `json:"progressCount"`
	ProgressText  string   `json:"progressText"`
	// SamplingPrompt is the prompt the client's sampling handler received.
	SamplingPrompt string `json:"samplingPrompt"`
	SamplingText   string `json:"samplingText"`
	// PostAfterCloseStatus answers a POST to the endpoint after the client
	// closed its stream.
	PostAfterCloseStatus int `json:"postAfterCloseStatus"`
}

// legacySessionIDPattern is our session id: 128 random bits in hex.
var legacySessionIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestLegacyInteropTypeScript drives the everything-server through mcp_proxy
// with the TypeScript SDK's SSEClientTransport (the 2024-11-05 HTTP+SSE
// transport, on the same /mcp endpoint as Streamable HTTP), over stdio and
// over an HTTP upstream, at the SDK's own revision and at 2024-11-05.
func TestLegacyInteropTypeScript(t *testing.T) {
	requireIntegration(t)
	node20(t)
	nodeModule(t, "@modelcontextprotocol", "sdk", "package.json")
	bin := buildEverythingServer(t)

	run := func(t *testing.T, url string) {
		for _, version := range []string{"", "2024-11-05"} {
			name, want := "sdk default", interopProtocol
			if version != "" {
				name, want = version, version
			}
			t.Run(name, func(t *testing.T) {
				checkLegacyInterop(t, runTSLegacyClient(t, url, version), url, want)
			})
		}
	}
	t.Run("stdio", func(t *testing.T) {
		run(t, startProxy(t, stdioProxySite(bin, "warm 0"))+"/mcp")
		// Each closed stream ended its session and so its process.
		waitForChildren(t, 0, 15*time.Second)
	})
	t.Run("http", func(t *testing.T) {
		upstreamURL := startEverythingServerHTTP(t)
		run(t, startProxy(t, httpProxySite(upstreamURL))+"/mcp")
	})
	// Behind handle_path, the handler sees /mcp; the endpoint event must
	// still name the path the client used, or its POSTs miss the route.
	t.Run("behind handle_path", func(t *testing.T) {
		site := fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	handle_path /gateway/* {
		mcp_proxy /mcp {
			stdio %s {
				warm 0
			}
		}
	}
}
`, caddyfileQuote(bin))
		url := startProxy(t, site) + "/gateway/mcp"
		checkLegacyInterop(t, runTSLegacyClient(t, url, "2024-11-05"), url, "2024-11-05")
	})
}

// checkLegacyInterop asserts what the legacy client must observe through
// the proxy at url.
func checkLegacyInterop(t *testing.T, r legacyResult, url, wantVersion string) {
	t.Helper()
	t.Logf("observed: %+v", r)
	checks := []struct {
		what string
		ok   bool
	}{
		{"the GET answered 200 text/event-stream", r.GetStatus == http.StatusOK && strings.HasPrefix(r.GetContentType, "text/event-stream")},
		{"a session id of ours in the endpoint", legacySessionIDPattern.MatchString(r.SessionID)},
		{"the endpoint on the same path", r.Endpoint == url+"?sessionId="+r.SessionID},
		{"protocol revision " + wantVersion, r.ProtocolVersion == wantVersion},
		{"every POST answered 202", len(r.PostStatuses) >= 6 && !slices.ContainsFunc(r.PostStatuses, func(s int) bool { return s != http.StatusAccepted })},
		{"tools listed, including " + toolSimpleText + ", " + toolProgress + ", " + toolSampling,
			slices.Contains(r.Tools, toolSimpleText) && slices.Contains(r.Tools, toolProgress) && slices.Contains(r.Tools, toolSampling)},
		{"simple tool text " + simpleText, r.SimpleText == simpleText},
		{"at least one progress notification", r.ProgressCount >= 1},
		{"the progress tool's result", r.ProgressText != ""},
		{"the sampling request carries the prompt", r.SamplingPrompt == samplingPrompt},
		{"the sampling reply round-trips into the tool result", r.SamplingText == samplingResultPrefix+samplingReply},
		{"a POST after the stream closed answered 404", r.PostAfterCloseStatus == http.StatusNotFound},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("expected %s", c.what)
		}
	}
}

// runTSLegacyClient runs interop_ts/legacy_client.mjs against url, forcing
// the protocol version when version is not "", and returns what it printed.
func runTSLegacyClient(t *testing.T, url, version string) legacyResult {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("interop_ts", "legacy_client.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	defer cancel()
	run := runNode(ctx, node20(t), script, url, version, samplingPrompt, samplingReply)
	if run.Err != nil {
		t.Fatalf("TypeScript legacy client against %s: %v\nstdout:\n%s\nstderr:\n%s", url, run.Err, run.Stdout, run.Stderr)
	}
	t.Logf("TypeScript legacy client against %s took %v", url, run.Duration.Round(time.Millisecond))
	var r legacyResult
	if err := json.Unmarshal([]byte(strings.TrimSpace(run.Stdout)), &r); err != nil {
		t.Fatalf("TypeScript legacy client output is not one JSON object: %v\nstdout:\n%s\nstderr:\n%s", err, run.Stdout, run.Stderr)
	}
	return r
}
