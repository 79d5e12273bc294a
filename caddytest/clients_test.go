package caddytest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// This file holds the tests' clients: raw HTTP requests that show exactly
// what the wire carries, and calls through go-sdk client sessions.

// sendRequest sends one request with header on c; the caller reads and
// closes the body.
func sendRequest(ctx context.Context, t testing.TB, c *http.Client, method, url, body string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp
}

// mcpHeader is the header of a Streamable HTTP client's POST, with the
// session id and MCP-Protocol-Version when they are not empty.
func mcpHeader(session, version string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json, text/event-stream")
	if session != "" {
		h.Set("Mcp-Session-Id", session)
	}
	if version != "" {
		h.Set("Mcp-Protocol-Version", version)
	}
	return h
}

// rawRequest sends one request with the given headers on streamClient; the
// caller reads and closes the body.
func rawRequest(t *testing.T, method, url, body string, header map[string]string) *http.Response {
	t.Helper()
	h := http.Header{}
	for k, v := range header {
		h.Set(k, v)
	}
	return sendRequest(context.Background(), t, streamClient, method, url, body, h)
}

// mcpPostVersion is mcpPost with an explicit MCP-Protocol-Version ("" for none).
func mcpPostVersion(t testing.TB, c *http.Client, url, session, version, body string) (*http.Response, string) {
	t.Helper()
	resp := sendRequest(context.Background(), t, c, http.MethodPost, url, body, mcpHeader(session, version))
	return resp, readAll(t, resp)
}

// authPost POSTs an MCP message (at 2025-11-25) to target on
// http.DefaultClient with the Authorization value auth (none when empty)
// and session id (none when empty).
func authPost(ctx context.Context, t *testing.T, target, auth, session, body string) (*http.Response, string) {
	t.Helper()
	h := mcpHeader(session, "2025-11-25")
	if auth != "" {
		h.Set("Authorization", auth)
	}
	resp := sendRequest(ctx, t, http.DefaultClient, http.MethodPost, target, body, h)
	return resp, readAll(t, resp)
}

// callToolText calls a tool and returns the text of its first content.
func callToolText(ctx context.Context, t *testing.T, cs *mcp.ClientSession, params *mcp.CallToolParams) string {
	t.Helper()
	res, err := cs.CallTool(ctx, params)
	if err != nil {
		t.Fatalf("tools/call %s: %v", params.Name, err)
	}
	if res.IsError {
		t.Errorf("tools/call %s: tool error result", params.Name)
	}
	tc := firstTextContent(res)
	if tc == nil {
		t.Errorf("tools/call %s: no text content in %+v", params.Name, res.Content)
		return ""
	}
	return tc.Text
}

// firstText is the text of res's first text content: "" when it has none
// or res is nil.
func firstText(res *mcp.CallToolResult) string {
	if tc := firstTextContent(res); tc != nil {
		return tc.Text
	}
	return ""
}

// firstTextContent is res's first text content, or nil.
func firstTextContent(res *mcp.CallToolResult) *mcp.TextContent {
	if res == nil {
		return nil
	}
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			return tc
		}
	}
	return nil
}

// callSimpleText calls the everything-server's test_simple_text tool.
func callSimpleText(ctx context.Context, cs *mcp.ClientSession) error {
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_simple_text"})
	if err != nil {
		return err
	}
	if res.IsError || len(res.Content) == 0 {
		return fmt.Errorf("tool error: %+v", res)
	}
	return nil
}

// mcpPost sends one JSON-RPC message to the endpoint and returns the
// response (body read) — a raw client, so the test sees exactly what the
// wire carries.
func mcpPost(t testing.TB, c *http.Client, url, session, body string) (*http.Response, string) {
	t.Helper()
	version := ""
	if session != "" {
		version = "2025-06-18"
	}
	return mcpPostVersion(t, c, url, session, version, body)
}

// readAll reads and closes a response body.
func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"caddytest","version":"1"}}}`

// openSession initializes a session and returns its id.
func openSession(t testing.TB, c *http.Client, url string) string {
	t.Helper()
	resp, body := mcpPost(t, c, url, "", initializeBody)
	id := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != http.StatusOK || id == "" || !strings.Contains(body, `"protocolVersion":"2025-06-18"`) {
		t.Fatalf("initialize: status %d, session %q, body %s", resp.StatusCode, id, body)
	}
	if resp, body := mcpPost(t, c, url, id, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("initialized: status %d, body %s", resp.StatusCode, body)
	}
	return id
}

// deleteSession ends a session and checks that its id is then unknown.
func deleteSession(t testing.TB, c *http.Client, url, id string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, url, nil)
	req.Header.Set("Mcp-Session-Id", id)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: status %d", resp.StatusCode)
	}
}

// responseTo returns the one response to request id in the answer.
func responseTo(t testing.TB, resp *http.Response, body, id string) rpcMessage {
	t.Helper()
	var found []rpcMessage
	for _, m := range answerMessages(t, resp, body) {
		if string(m.ID) == id && !m.isRequest() {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d responses to request %s in the answer (status %s), want 1:\n%s", len(found), id, resp.Status, body)
	}
	return found[0]
}

// initializeBodyAt is initializeBody asking for another protocol revision.
func initializeBodyAt(version string) string {
	return strings.Replace(initializeBody, `"protocolVersion":"2025-06-18"`, `"protocolVersion":"`+version+`"`, 1)
}

// connectGo connects a go-sdk client at version ("" for its default,
// 2026-07-28).
func connectGo(ctx context.Context, t *testing.T, url, version string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "caddytest-pipeline", Version: "0"}, opts)
	var so *mcp.ClientSessionOptions
	if version != "" {
		so = &mcp.ClientSessionOptions{ProtocolVersion: version}
	}
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, so)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// wantRPCError returns the JSON-RPC error err carries, failing if it is none.
func wantRPCError(t *testing.T, err error, what string) *jsonrpc.Error {
	t.Helper()
	var e *jsonrpc.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: want a JSON-RPC error, got %v", what, err)
	}
	return e
}

type callOutcome struct {
	res *mcp.CallToolResult
	err error
}

func callAsync(ctx context.Context, cs *mcp.ClientSession, name string) <-chan callOutcome {
	out := make(chan callOutcome, 1)
	go func() {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name})
		out <- callOutcome{res, err}
	}()
	return out
}

// connectAbandonable opens a 2025-11-25 session whose client does not
// listen on a GET stream (so that, between its calls, the session is idle)
// and whose HTTP connections are not shared with other clients.
func connectAbandonable(ctx context.Context, url string) (*mcp.ClientSession, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	return mcp.NewClient(&mcp.Implementation{Name: "caddytest-abandoned", Version: "0"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: transport}, DisableStandaloneSSE: true},
		&mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
}

// streamClient has no timeout (its streams are long).
var streamClient = testClient(0)

// adminDo sends a request to the in-process Caddy's admin endpoint and
// returns the status and body.
func adminDo(t *testing.T, method, path string) (int, []byte) {
	t.Helper()
	resp := sendRequest(context.Background(), t, http.DefaultClient, method, "http://"+caddyAdminAddr+path, "", nil)
	return resp.StatusCode, []byte(readAll(t, resp))
}

// adminGet GETs path and decodes its 200 answer into v.
func adminGet(t *testing.T, path string, v any) {
	t.Helper()
	status, body := adminDo(t, http.MethodGet, path)
	if status != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// scrape reads the in-process Caddy's admin /metrics into a map from a
// series (its name and its labels, sorted, as name{k="v",...}) to its value.
func scrape(t *testing.T) map[string]float64 {
	t.Helper()
	status, body := adminDo(t, http.MethodGet, "/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: status %d: %s", status, body)
	}
	out := make(map[string]float64)
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cut := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[cut+1:], 64)
		if err != nil {
			t.Fatalf("GET /metrics: line %q: %v", line, err)
		}
		out[line[:cut]] = v
	}
	return out
}

// series names one labelled series of the "metrics-test" endpoint as
// scrape keys it: labels (comma-separated k="v") sorted by name, as the
// exposition format has them.
func series(name, labels string) string {
	pairs := append(strings.Split(labels, ","), `endpoint="metrics-test"`)
	slices.Sort(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}
