package caddytest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTasksSharedStdio: one stdio upstream with the default shared 2
// (caddytest/taskserver, whose processes both mint "task-A-1"): a task is
// made on the first process; 65 concurrent clients whose calls never
// answer fill it (64 in flight) and start the second, which makes the
// next task; each task's id comes back tagged with its process and
// tasks/get follows each to its result on that process (max_in_flight
// lets one client hold more than a process's 64). Failed before:
// both tasks were "task-A-1", and their requests went to whichever
// process was least loaded.
func TestTasksSharedStdio(t *testing.T) {
	site := fmt.Sprintf(siteAddr+" {\n\tbind 127.0.0.1\n\tmcp_proxy /mcp {\n\t\tname tasks-shared\n\t\tmax_in_flight 100\n\t\tstdio %s {\n\t\t\tprotocol modern\n\t\t}\n\t}\n}\n", caddyfileQuote(taskServer.get(t)))
	url := startProxy(t, site) + "/mcp"
	c := &taskClient{wireClient: newWireClient(t, url)}
	create := func() string {
		t.Helper()
		m := c.call("tools/call", `{"name":"slow","arguments":{}}`, "slow")
		var created taskState
		if m.Error != nil || json.Unmarshal(m.Result, &created) != nil || created.Status != "working" {
			t.Fatalf("tools/call: %+v %s", m.Error, m.Result)
		}
		return created.TaskID
	}
	first := create()

	release := fillFirstProcess(t, url, "tasks-shared")
	second := create() // the first process is at its 64
	release()

	if first == second || !strings.HasPrefix(first, "mcpgw:") || !strings.HasPrefix(second, "mcpgw:") {
		t.Fatalf("tasks %q and %q, want each tagged with its own process", first, second)
	}
	for _, id := range []string{first, second} {
		var got taskState
		for polls := 0; got.Status != "completed"; polls++ {
			if polls == 10 {
				t.Fatalf("task %s still %q after 10 polls", id, got.Status)
			}
			m := c.call("tasks/get", `{"taskId":"`+id+`"}`, id)
			if m.Error != nil || json.Unmarshal(m.Result, &got) != nil || got.TaskID != id {
				t.Fatalf("tasks/get %s: %+v %s", id, m.Error, m.Result)
			}
		}
	}
}

// fillFirstProcess holds 65 calls that never answer in flight on the
// stdio upstream (caddytest/taskserver's "hold") of the endpoint named
// endpoint at url, so that the first shared process is at its 64 and the
// second has started, and returns what ends them (and waits for them).
func fillFirstProcess(t *testing.T, url, endpoint string) (release func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var holds sync.WaitGroup
	hc := &http.Client{}
	release = func() {
		cancel()
		holds.Wait()
		hc.CloseIdleConnections()
	}
	for i := range 65 {
		holds.Add(1)
		go func() {
			defer holds.Done()
			body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"hold","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"extensions":{"io.modelcontextprotocol/tasks":{}}}}}}`, i)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
			req.Header.Set("Mcp-Method", "tools/call")
			req.Header.Set("Mcp-Name", "hold")
			if resp, err := hc.Do(req); err == nil {
				_ = resp.Body.Close()
			}
		}()
	}
	assigned := `caddy_mcp_processes{endpoint="` + endpoint + `",state="assigned"}`
	if !poll(20*time.Second, func() bool { return scrape(t)[assigned] == 2 }) {
		release()
		for k, v := range scrape(t) {
			if strings.Contains(k, endpoint) {
				t.Log(k, v)
			}
		}
		t.Fatalf("the second shared process never started")
	}
	return release
}

// TestCursorsSharedStdio: one stdio upstream with the default shared 2 of
// a server whose cursors and requestState only the process that minted
// them understands (caddytest/taskserver -cursors local). While the first process
// is full, the second answers the first page of tools/list and an
// input_required call; once both are idle, the next pages and the retry
// (each of which would go to the first process, the least loaded) reach
// the second through the gateway: every page comes, the retry completes.
// Failed before: the cursor and requestState were not tagged, and the
// first process answered them -32602.
func TestCursorsSharedStdio(t *testing.T) {
	site := fmt.Sprintf(siteAddr+" {\n\tbind 127.0.0.1\n\tmcp_proxy /mcp {\n\t\tname cursors-shared\n\t\tmax_in_flight 100\n\t\tstdio %s -cursors local {\n\t\t\tprotocol modern\n\t\t}\n\t}\n}\n", caddyfileQuote(taskServer.get(t)))
	url := startProxy(t, site) + "/mcp"
	c := &taskClient{wireClient: newWireClient(t, url)}
	release := fillFirstProcess(t, url, "cursors-shared")
	names, cursor := c.toolsPage("")
	m := c.call("tools/call", `{"name":"ask","arguments":{}}`, "ask")
	release()
	var asked struct {
		RequestState string `json:"requestState"`
	}
	if m.Error != nil || json.Unmarshal(m.Result, &asked) != nil || !strings.HasPrefix(asked.RequestState, "mcpgw:") {
		t.Fatalf("ask: %+v %s, want a tagged requestState", m.Error, m.Result)
	}
	for pages := 1; cursor != ""; pages++ {
		if pages == 10 {
			t.Fatalf("still paging after 10 pages: %v", names)
		}
		var page []string
		page, cursor = c.toolsPage(cursor)
		names = append(names, page...)
	}
	if got := strings.Join(names, ","); got != "slow,ask,hold" {
		t.Errorf("paged tools/list: %s, want slow,ask,hold", got)
	}
	m = c.call("tools/call", `{"name":"ask","arguments":{},"inputResponses":{"name":{"action":"accept","content":{"name":"x"}}},"requestState":"`+asked.RequestState+`"}`, "ask")
	if m.Error != nil || !strings.Contains(string(m.Result), "answered by A") {
		t.Errorf("the retry: %+v %s", m.Error, m.Result)
	}
}
