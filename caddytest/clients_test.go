package caddytest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

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
