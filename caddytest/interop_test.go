//lint:file-ignore SA1019 sampling is deprecated from 2026-07-28 on, and still part of the 2025 revisions the proxy must carry.

package caddytest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"
)

// Tools and texts of the go-sdk everything-server
// (conformance/everything-server/main.go at the go-sdk version in go.mod).
const (
	toolSimpleText = "test_simple_text"
	toolProgress   = "test_tool_with_progress" // 3 progress notifications; the result text is the progress token
	toolSampling   = "test_sampling"           // sampling/createMessage with the "prompt" argument

	simpleText           = "This is a simple text response for testing."
	samplingResultPrefix = "LLM response: "

	// What the clients send and answer in the sampling round trip.
	samplingPrompt = "caddytest sampling prompt"
	samplingReply  = "caddytest fixed assistant reply"

	// interopProtocol is the revision the go-sdk client is told to use:
	// v1.8 defaults to 2026-07-28.
	interopProtocol = "2025-11-25"

	interopTimeout = time.Minute
)

// interopResult is what an interop client observed in one session. The
// TypeScript client (interop_ts/client.mjs) prints it as JSON.
type interopResult struct {
	ProtocolVersion string   `json:"protocolVersion"`
	SessionID       string   `json:"sessionId"`
	Tools           []string `json:"tools"`
	SimpleText      string   `json:"simpleText"`
	// ProgressToken is the token the client sent with the progress tool's call.
	ProgressToken string `json:"progressToken"`
	ProgressText  string `json:"progressText"`
	ProgressCount int    `json:"progressCount"`
	// SamplingPrompt is the prompt the client's sampling handler received.
	SamplingPrompt string `json:"samplingPrompt"`
	SamplingText   string `json:"samplingText"`
	// DeleteStatus is the HTTP status of the DELETE that ended the session.
	DeleteStatus int `json:"deleteStatus"`
	// PostAfterDeleteStatus is the HTTP status of a POST on the deleted session.
	PostAfterDeleteStatus int `json:"postAfterDeleteStatus"`
}

// checkInterop asserts what every interop client must observe against the
// everything-server, directly or through the proxy.
func checkInterop(t *testing.T, r interopResult) {
	t.Helper()
	t.Logf("observed: %+v", r)
	checks := []struct {
		what string
		ok   bool
	}{
		{"protocol revision " + interopProtocol, r.ProtocolVersion == interopProtocol},
		{"a session id", r.SessionID != ""},
		{"tools listed, including " + toolSimpleText + ", " + toolProgress + ", " + toolSampling,
			slices.Contains(r.Tools, toolSimpleText) && slices.Contains(r.Tools, toolProgress) && slices.Contains(r.Tools, toolSampling)},
		{"simple tool text " + fmt.Sprintf("%q", simpleText), r.SimpleText == simpleText},
		{"a progress token sent", r.ProgressToken != ""},
		{"the progress tool echoes the progress token", r.ProgressText == r.ProgressToken},
		{"at least one progress notification", r.ProgressCount >= 1},
		{"the sampling request carries the prompt", r.SamplingPrompt == samplingPrompt},
		{"the sampling reply round-trips into the tool result", r.SamplingText == samplingResultPrefix+samplingReply},
		{"DELETE answered 2xx", r.DeleteStatus >= 200 && r.DeleteStatus < 300},
		{"a POST on the deleted session answered 404", r.PostAfterDeleteStatus == http.StatusNotFound},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("expected %s", c.what)
		}
	}
}

// TestInteropTypeScriptClient drives the everything-server with the
// TypeScript SDK's Streamable HTTP client: first directly (the baseline),
// then over stdio behind mcp_proxy.
func TestInteropTypeScriptClient(t *testing.T) {
	requireIntegration(t)
	node20(t)
	nodeModule(t, "@modelcontextprotocol", "sdk", "package.json")
	bin := buildEverythingServer(t)

	if !t.Run("direct", func(t *testing.T) {
		checkInterop(t, runTSClient(t, startEverythingServerHTTP(t)))
	}) {
		t.Fatal("the TypeScript client fails against the everything-server itself; the proxy run would prove nothing")
	}
	t.Run("proxy", func(t *testing.T) {
		checkInterop(t, runTSClient(t, startProxy(t, stdioProxySite(bin))+"/mcp"))
	})
}

// runTSClient runs interop_ts/client.mjs against url with the machine's
// Node and returns what it printed.
func runTSClient(t *testing.T, url string) interopResult {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("interop_ts", "client.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	defer cancel()
	run := runNode(ctx, node20(t), script, url, samplingPrompt, samplingReply)
	if run.Err != nil {
		t.Fatalf("TypeScript client against %s: %v\nstdout:\n%s\nstderr:\n%s", url, run.Err, run.Stdout, run.Stderr)
	}
	t.Logf("TypeScript client against %s took %v", url, run.Duration.Round(time.Millisecond))
	var r interopResult
	if err := json.Unmarshal([]byte(strings.TrimSpace(run.Stdout)), &r); err != nil {
		t.Fatalf("TypeScript client output is not one JSON object: %v\nstdout:\n%s\nstderr:\n%s", err, run.Stdout, run.Stderr)
	}
	return r
}

// TestInteropGoClient drives the everything-server with the go-sdk's
// Streamable HTTP client: first directly (the baseline, which also checks
// the client leaks no goroutine), then over stdio behind mcp_proxy.
func TestInteropGoClient(t *testing.T) {
	requireIntegration(t)
	bin := buildEverythingServer(t)

	if !t.Run("direct", func(t *testing.T) {
		url := startEverythingServerHTTP(t)
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		checkInterop(t, runGoClient(t, url))
	}) {
		t.Fatal("the go-sdk client fails against the everything-server itself; the proxy run would prove nothing")
	}
	t.Run("proxy", func(t *testing.T) {
		checkInterop(t, runGoClient(t, startProxy(t, stdioProxySite(bin))+"/mcp"))
	})
}

// statusRecorder is an http.RoundTripper that records the status of the
// last DELETE.
type statusRecorder struct {
	base         http.RoundTripper
	deleteStatus atomic.Int32
}

// RoundTrip implements http.RoundTripper.
func (s *statusRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(req)
	if err == nil && req.Method == http.MethodDelete {
		s.deleteStatus.Store(int32(resp.StatusCode))
	}
	return resp, err
}

// runGoClient runs one session of the go-sdk client against url at
// protocol 2025-11-25 — list tools, call a tool, call one with progress,
// call one that asks for sampling, close (DELETE) — and then checks with a
// raw POST that the session is gone.
func runGoClient(t *testing.T, url string) interopResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	defer cancel()

	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()
	recorder := &statusRecorder{base: transport}
	httpClient := &http.Client{Transport: recorder}

	const progressToken = "caddytest-progress-1"
	var (
		r        interopResult
		mu       sync.Mutex // guards r.SamplingPrompt
		progress atomic.Int32
	)
	client := mcp.NewClient(&mcp.Implementation{Name: "caddy-mcp-caddytest-go", Version: "0.0.0"}, &mcp.ClientOptions{
		CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			var prompt string
			if len(req.Params.Messages) > 0 {
				if tc, ok := req.Params.Messages[0].Content.(*mcp.TextContent); ok {
					prompt = tc.Text
				}
			}
			mu.Lock()
			r.SamplingPrompt = prompt
			mu.Unlock()
			return &mcp.CreateMessageResult{
				Role:       "assistant",
				Content:    &mcp.TextContent{Text: samplingReply},
				Model:      "caddytest-fixed",
				StopReason: "endTurn",
			}, nil
		},
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			if fmt.Sprint(req.Params.ProgressToken) == progressToken {
				progress.Add(1)
			}
		},
	})
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: httpClient},
		&mcp.ClientSessionOptions{ProtocolVersion: interopProtocol})
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = cs.Close()
		}
	}()
	r.ProtocolVersion = cs.InitializeResult().ProtocolVersion
	r.SessionID = cs.ID()

	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	for _, tool := range tools.Tools {
		r.Tools = append(r.Tools, tool.Name)
	}

	r.SimpleText = callToolText(ctx, t, cs, &mcp.CallToolParams{Name: toolSimpleText})

	progressParams := &mcp.CallToolParams{Name: toolProgress}
	progressParams.SetProgressToken(progressToken)
	r.ProgressToken = progressToken
	r.ProgressText = callToolText(ctx, t, cs, progressParams)
	// The server sends 3 notifications before the result; allow the
	// client's notification handlers a moment to catch up with the result.
	poll(2*time.Second, func() bool { return progress.Load() >= 3 })
	r.ProgressCount = int(progress.Load())

	r.SamplingText = callToolText(ctx, t, cs, &mcp.CallToolParams{
		Name:      toolSampling,
		Arguments: map[string]any{"prompt": samplingPrompt},
	})

	closed = true
	if err := cs.Close(); err != nil { // sends DELETE
		t.Errorf("close session: %v", err)
	}
	r.DeleteStatus = int(recorder.deleteStatus.Load())
	if r.SessionID != "" {
		r.PostAfterDeleteStatus = postOnSession(ctx, t, httpClient, url, r.SessionID)
	}
	mu.Lock()
	defer mu.Unlock()
	return r
}

// postOnSession POSTs a tools/list on session id and returns the status.
func postOnSession(ctx context.Context, t *testing.T, c *http.Client, url, id string) int {
	t.Helper()
	resp := sendRequest(ctx, t, c, http.MethodPost, url, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, mcpHeader(id, interopProtocol))
	_ = resp.Body.Close()
	return resp.StatusCode
}
