package caddytest

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// TestClusterStdioCursors2026: two Caddy processes sharing a cluster key,
// each with caddytest/taskserver -cursors local over stdio, whose cursors and
// requestState only the process that minted them understands. A
// tools/list begun through A is paged to its end through B, and an
// input_required call begun through A is retried through B, because the
// sealed nextCursor and requestState name A, to which B forwards them:
// every page comes, and the retry completes on A's process. Failed
// before: cursors and requestState of a stdio process were not tagged, B
// served them with its own process, which answered -32602.
func TestClusterStdioCursors2026(t *testing.T) {
	requireIntegration(t)
	key := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("c", 32)))
	addrA, addrB := freeLoopbackAddr(t), freeLoopbackAddr(t)
	startTaskClusterInstance(t, key, addrA, "A", "-cursors", "local")
	startTaskClusterInstance(t, key, addrB, "B", "-cursors", "local")
	ca := &taskClient{wireClient: newWireClient(t, "http://"+addrA+"/mcp")}
	cb := &taskClient{wireClient: newWireClient(t, "http://"+addrB+"/mcp")}

	names, cursor := ca.toolsPage("")
	if !strings.HasPrefix(cursor, "mcpgw.") {
		t.Fatalf("the first page's cursor through A is %q, want it sealed", cursor)
	}
	for pages := 1; cursor != ""; pages++ {
		if pages == 10 {
			t.Fatalf("still paging after 10 pages: %v", names)
		}
		var page []string
		page, cursor = cb.toolsPage(cursor)
		names = append(names, page...)
	}
	if got := strings.Join(names, ","); got != "slow,ask,hold" {
		t.Errorf("tools/list begun through A, paged through B: %s, want slow,ask,hold", got)
	}

	m := ca.call("tools/call", `{"name":"ask","arguments":{}}`, "ask")
	var asked struct {
		ResultType   string `json:"resultType"`
		RequestState string `json:"requestState"`
	}
	if m.Error != nil || json.Unmarshal(m.Result, &asked) != nil || asked.ResultType != "input_required" || !strings.HasPrefix(asked.RequestState, "mcpgw.") {
		t.Fatalf("ask through A: %+v %s", m.Error, m.Result)
	}
	m = cb.call("tools/call", `{"name":"ask","arguments":{},"inputResponses":{"name":{"action":"accept","content":{"name":"x"}}},"requestState":"`+asked.RequestState+`"}`, "ask")
	if m.Error != nil || !strings.Contains(string(m.Result), "answered by A") {
		t.Errorf("the retry through B: %+v %s, want answered by A", m.Error, m.Result)
	}
}

// toolsPage asks the tools/list page of cursor ("" the first) and returns
// its tools' names and its nextCursor.
func (c *taskClient) toolsPage(cursor string) ([]string, string) {
	c.t.Helper()
	params := "{}"
	if cursor != "" {
		params = `{"cursor":"` + cursor + `"}`
	}
	m := c.call("tools/list", params, "")
	var page struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
		NextCursor string `json:"nextCursor"`
	}
	if m.Error != nil || json.Unmarshal(m.Result, &page) != nil {
		c.t.Fatalf("tools/list %q: %+v %s", cursor, m.Error, m.Result)
	}
	var names []string
	for _, tool := range page.Tools {
		names = append(names, tool.Name)
	}
	return names, page.NextCursor
}
