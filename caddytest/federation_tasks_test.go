package caddytest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestFederationTasks2026: two task servers (caddytest/taskserver over
// HTTP, A and B) federated as servers a and b; a 2026-07-28 client creates
// a task on each (a_slow, b_slow) and follows it to its result: the task
// id comes back tagged with the server's name, and tasks/get, tasks/update,
// tasks/cancel and a subscriptions/listen for it reach that server with
// its own id (the server checks Mcp-Name against it). A tag naming no
// server, an id the federation did not tag, or a listen for tasks of both
// servers is -32602.
func TestFederationTasks2026(t *testing.T) {
	site := fmt.Sprintf(siteAddr+" {\n\tbind 127.0.0.1\n\tmcp_proxy /mcp {\n\t\tserver a {\n\t\t\thttp %s\n\t\t}\n\t\tserver b {\n\t\t\thttp %s\n\t\t}\n\t\tfederate\n\t}\n}\n",
		caddyfileQuote(startTaskServerHTTP(t, "A")), caddyfileQuote(startTaskServerHTTP(t, "B")))
	c := &taskClient{wireClient: newWireClient(t, startProxy(t, site)+"/mcp")}
	var ids []string
	for _, server := range []string{"a", "b"} {
		id := followFederatedTask(t, c, server)
		ids = append(ids, id)
		if ack, notified := c.listenTasks(id); !slices.Equal(ack, []string{id}) || !slices.Equal(notified, []string{id}) {
			t.Errorf("listen for %s: acknowledged %q, notified %q", id, ack, notified)
		}
	}
	// One server made each task: a listen naming both is forged.
	if m := c.call("subscriptions/listen", `{"notifications":{"taskIds":["`+strings.Join(ids, `","`)+`"]}}`, ""); m.Error == nil || m.Error.Code != -32602 {
		t.Errorf("a listen for tasks of two servers: %+v", m.Error)
	}
	for _, id := range []string{"mcpgw:c:task-A-1", "task-A-1"} {
		if m := c.call("tasks/get", `{"taskId":"`+id+`"}`, id); m.Error == nil || m.Error.Code != -32602 {
			t.Errorf("tasks/get %s: %+v", id, m.Error)
		}
	}
}

// followFederatedTask creates a task with server's tool slow and follows
// it to its result; it returns the task id as the client knows it.
func followFederatedTask(t *testing.T, c *taskClient, server string) string {
	t.Helper()
	tool := server + "_slow"
	m := c.call("tools/call", `{"name":"`+tool+`","arguments":{}}`, tool)
	var created taskState
	if m.Error != nil || json.Unmarshal(m.Result, &created) != nil || created.Status != "working" {
		t.Fatalf("tools/call %s: %+v %s", tool, m.Error, m.Result)
	}
	id := created.TaskID
	if !strings.HasPrefix(id, "mcpgw:"+server+":task-") {
		t.Fatalf("task id %q is not tagged with its server %s", id, server)
	}
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
	if want := "done by " + strings.ToUpper(server); len(got.Result.Content) != 1 || got.Result.Content[0].Text != want {
		t.Fatalf("task %s completed with %+v, want %q", id, got.Result, want)
	}
	for _, method := range []string{"tasks/update", "tasks/cancel"} {
		params := `{"taskId":"` + id + `"}`
		if method == "tasks/update" {
			params = `{"taskId":"` + id + `","inputResponses":{}}`
		}
		if m := c.call(method, params, id); m.Error != nil {
			t.Fatalf("%s %s: %+v", method, id, m.Error)
		}
	}
	return id
}

// TestFederationTasksInSessions: the same two task servers federated, in
// a 2025-11-25 session: a tools/call with params.task on each server
// creates a task whose id comes back tagged with the server's name, and
// tasks/get and tasks/result reach that server's session with its own id;
// an id the federation did not tag is -32602.
func TestFederationTasksInSessions(t *testing.T) {
	site := fmt.Sprintf(siteAddr+" {\n\tbind 127.0.0.1\n\tmcp_proxy /mcp {\n\t\tserver a {\n\t\t\thttp %s\n\t\t}\n\t\tserver b {\n\t\t\thttp %s\n\t\t}\n\t}\n}\n",
		caddyfileQuote(startTaskServerHTTP(t, "A")), caddyfileQuote(startTaskServerHTTP(t, "B")))
	wc := newWireClient(t, startProxy(t, site)+"/mcp")
	session, _ := servedBy(t, wc)
	id := 1
	post := func(method, params string) rpcMessage {
		t.Helper()
		id++
		resp, body := wc.post(session, "2025-11-25", fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, id, method, params), nil)
		return responseTo(t, resp, body, fmt.Sprint(id))
	}
	for _, server := range []string{"a", "b"} {
		var created struct{ Task taskState }
		if m := post("tools/call", `{"name":"`+server+`_slow","arguments":{},"task":{"ttl":60000}}`); m.Error != nil || json.Unmarshal(m.Result, &created) != nil {
			t.Fatalf("tools/call with a task on %s: %+v %s", server, m.Error, m.Result)
		}
		task := created.Task.TaskID
		if !strings.HasPrefix(task, "mcpgw:"+server+":task-") {
			t.Fatalf("task id %q is not tagged with its server %s", task, server)
		}
		var got taskState
		for polls := 0; got.Status != "completed"; polls++ {
			if polls == 10 {
				t.Fatalf("task %s still %q", task, got.Status)
			}
			if m := post("tasks/get", `{"taskId":"`+task+`"}`); m.Error != nil || json.Unmarshal(m.Result, &got) != nil || got.TaskID != task {
				t.Fatalf("tasks/get %s: %+v %s", task, m.Error, m.Result)
			}
		}
		var result struct{ Content []struct{ Text string } }
		if m := post("tasks/result", `{"taskId":"`+task+`"}`); m.Error != nil || json.Unmarshal(m.Result, &result) != nil ||
			len(result.Content) != 1 || result.Content[0].Text != "done by "+strings.ToUpper(server) {
			t.Fatalf("tasks/result %s: %+v %s", task, m.Error, m.Result)
		}
	}
	for _, task := range []string{"mcpgw:c:task-A-1", "task-A-1"} {
		if m := post("tasks/get", `{"taskId":"`+task+`"}`); m.Error == nil || m.Error.Code != -32602 {
			t.Errorf("tasks/get %s: %+v", task, m.Error)
		}
	}
}

// TestFederationTaskListInSessions: in a 2025-11-25 session over the same
// two task servers (each lists its tasks one a page), tasks/list lists
// every server's tasks, each id tagged with its server, page by page
// with the gateway's cursor; tasks/get and tasks/cancel of a listed id
// reach its server. A cursor the gateway did not make is -32602.
func TestFederationTaskListInSessions(t *testing.T) {
	site := fmt.Sprintf(siteAddr+" {\n\tbind 127.0.0.1\n\tmcp_proxy /mcp {\n\t\tserver a {\n\t\t\thttp %s\n\t\t}\n\t\tserver b {\n\t\t\thttp %s\n\t\t}\n\t}\n}\n",
		caddyfileQuote(startTaskServerHTTP(t, "A")), caddyfileQuote(startTaskServerHTTP(t, "B")))
	wc := newWireClient(t, startProxy(t, site)+"/mcp")
	session, _ := servedBy(t, wc)
	id := 1
	post := func(method, params string) rpcMessage {
		t.Helper()
		id++
		resp, body := wc.post(session, "2025-11-25", fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, id, method, params), nil)
		return responseTo(t, resp, body, fmt.Sprint(id))
	}
	for _, tool := range []string{"a_slow", "b_slow", "a_slow"} {
		if m := post("tools/call", `{"name":"`+tool+`","arguments":{},"task":{"ttl":60000}}`); m.Error != nil {
			t.Fatalf("tools/call %s: %+v", tool, m.Error)
		}
	}
	var listed []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages == 10 {
			t.Fatalf("tasks/list never ends: %v", listed)
		}
		params := `{}`
		if cursor != "" {
			params = `{"cursor":"` + cursor + `"}`
		}
		m := post("tasks/list", params)
		var page struct {
			Tasks      []taskState
			NextCursor string
		}
		if m.Error != nil || json.Unmarshal(m.Result, &page) != nil {
			t.Fatalf("tasks/list %s: %+v %s", params, m.Error, m.Result)
		}
		for _, task := range page.Tasks {
			listed = append(listed, task.TaskID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
		// The federation's cursor is a tag naming the server and that
		// server's own cursor (mcpgw:<server>:<cursor>), never the bare
		// cursor a server gave.
		if !strings.HasPrefix(cursor, "mcpgw:a:") && !strings.HasPrefix(cursor, "mcpgw:b:") {
			t.Errorf("the cursor %q is not the federation's (mcpgw:<server>:<cursor>)", cursor)
		}
	}
	want := []string{"mcpgw:a:task-A-1", "mcpgw:a:task-A-2", "mcpgw:b:task-B-1"}
	if !slices.Equal(listed, want) {
		t.Fatalf("tasks/list listed %q, want %q", listed, want)
	}
	for _, task := range listed {
		var got taskState
		if m := post("tasks/get", `{"taskId":"`+task+`"}`); m.Error != nil || json.Unmarshal(m.Result, &got) != nil || got.TaskID != task {
			t.Errorf("tasks/get %s: %+v %s", task, m.Error, m.Result)
		}
	}
	if m := post("tasks/cancel", `{"taskId":"`+listed[2]+`"}`); m.Error != nil {
		t.Errorf("tasks/cancel %s: %+v", listed[2], m.Error)
	}
	if m := post("tasks/list", `{"cursor":"not-the-gateways"}`); m.Error == nil || m.Error.Code != -32602 {
		t.Errorf("tasks/list with a forged cursor: %+v %s", m.Error, m.Result)
	}
}
