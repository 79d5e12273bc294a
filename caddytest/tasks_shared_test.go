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

	ctx, release := context.WithCancel(context.Background())
	var holds sync.WaitGroup
	hc := &http.Client{}
	defer hc.CloseIdleConnections()
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
	const assigned = `caddy_mcp_processes{endpoint="tasks-shared",state="assigned"}`
	if !poll(20*time.Second, func() bool { return scrape(t)[assigned] == 2 }) {
		release()
		holds.Wait()
		for k, v := range scrape(t) {
			if strings.Contains(k, "tasks-shared") {
				t.Log(k, v)
			}
		}
		t.Fatalf("the second shared process never started")
	}
	second := create() // the first process is at its 64
	release()
	holds.Wait()

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
