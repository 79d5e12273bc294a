package caddytest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/tape"
)

// taskServer is caddytest/taskserver, an MCP server with the tasks
// extension (the go-sdk in go.mod has none).
var taskServer = &builtBinary{pkg: "github.com/caddy-mcp/caddy-mcp/caddytest/taskserver", name: "taskserver", timeout: 2 * time.Minute}

// startTaskServerHTTP runs the task server named name over HTTP and
// returns its URL.
func startTaskServerHTTP(t *testing.T, name string) string {
	t.Helper()
	addr := freeLoopbackAddr(t)
	cmd := exec.Command(taskServer.get(t), "-name", name, "-http", addr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if !poll(10*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("the task server %s does not listen on %s", name, addr)
	}
	return "http://" + addr + "/mcp"
}

// taskClient is a 2026-07-28 client that declares the tasks extension: a
// wireClient that adds the request's _meta and its mirrored headers.
type taskClient struct {
	*wireClient
	id int
}

// call sends method with params (a JSON object without _meta) and
// mcpName as Mcp-Name, and returns the response.
func (c *taskClient) call(method, params, mcpName string) rpcMessage {
	c.t.Helper()
	resp, text := c.send(method, params, mcpName)
	return responseTo(c.t, resp, text, fmt.Sprint(c.id))
}

// send sends method with params and mcpName and returns the answer.
func (c *taskClient) send(method, params, mcpName string) (*http.Response, string) {
	c.t.Helper()
	c.id++
	meta := `{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"extensions":{"io.modelcontextprotocol/tasks":{}}}}`
	if rest := strings.TrimPrefix(params, "{"); rest != "}" {
		meta += "," + rest
	} else {
		meta += "}"
	}
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, c.id, method, meta)
	h := http.Header{"Mcp-Method": {method}}
	if mcpName != "" {
		h.Set("Mcp-Name", mcpName)
	}
	return c.post("", "2026-07-28", body, h)
}

// listenTasks opens a subscriptions/listen for the task id (the server
// ends it after the task's state) and returns the task ids of its
// acknowledgement and of its notifications/tasks.
func (c *taskClient) listenTasks(id string) (acknowledged []string, notified []string) {
	c.t.Helper()
	resp, text := c.send("subscriptions/listen", `{"notifications":{"taskIds":["`+id+`"]}}`, "")
	for _, m := range answerMessages(c.t, resp, text) {
		var p struct {
			TaskID        string `json:"taskId"`
			Notifications struct {
				TaskIDs []string `json:"taskIds"`
			} `json:"notifications"`
		}
		_ = json.Unmarshal(m.Params, &p)
		switch m.Method {
		case "notifications/subscriptions/acknowledged":
			acknowledged = p.Notifications.TaskIDs
		case "notifications/tasks":
			notified = append(notified, p.TaskID)
		}
	}
	return acknowledged, notified
}

type taskState struct {
	TaskID string `json:"taskId"`
	Status string `json:"status"`
	Result struct {
		Content []struct{ Text string } `json:"content"`
	} `json:"result"`
}

// TestTasksThroughReplicas: a 2026-07-28 client creates tasks on a server
// behind two replicas, over HTTP and over stdio, through a real Caddy, and
// follows each to its result with tasks/get: every task request reaches the
// replica that made the task (another answers -32602), though the policy
// spreads the tools/calls over both; tasks/cancel and tasks/update reach it
// too; a subscriptions/listen for a task reaches it and its notifications
// name the task as the client knows it; and intercept rules and tapes see
// task requests like any other.
func TestTasksThroughReplicas(t *testing.T) {
	rule := "intercept no-cancel-x {\n\tmethod tasks/cancel\n\tfield /params/taskId x$\n\tblock \"not this one\"\n}"
	for _, tc := range taskReplicaSites(t) {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			site := tc.site(rule, "record "+caddyfileQuote(dir))
			c := &taskClient{wireClient: newWireClient(t, startProxy(t, site)+"/mcp")}
			followTasks(t, c)
			unloadProxy(t) // the recorder writes the rest of its tapes
			if got := tapedTaskRequests(t, dir); got["tasks/get"] < 8 || got["tasks/update"] != 4 || got["tasks/cancel passed"] != 4 || got["tasks/cancel blocked"] != 1 {
				t.Errorf("task requests on the tapes: %v", got)
			}
		})
	}
}

// followTasks creates four tasks through a site of taskReplicaSites and
// follows each to its result, then listens for the last
// and sends a task request the rule blocks and one naming no member.
func followTasks(t *testing.T, c *taskClient) {
	t.Helper()
	owners := map[string]int{}
	var last string // the last task's id
	for range 4 {
		m := c.call("tools/call", `{"name":"slow","arguments":{}}`, "slow")
		var created taskState
		if m.Error != nil || json.Unmarshal(m.Result, &created) != nil || created.Status != "working" {
			t.Fatalf("tools/call: %+v %s", m.Error, m.Result)
		}
		member, _, tagged := strings.Cut(strings.TrimPrefix(created.TaskID, "mcpgw:"), ":")
		if !tagged {
			t.Fatalf("task id %q is not tagged with its member", created.TaskID)
		}
		replica := strings.ToUpper(member)
		owners[replica]++
		last = created.TaskID
		var got taskState
		for polls := 0; got.Status != "completed"; polls++ {
			if polls == 10 {
				t.Fatalf("task %s still %q after 10 polls", created.TaskID, got.Status)
			}
			m := c.call("tasks/get", `{"taskId":"`+created.TaskID+`"}`, created.TaskID)
			if m.Error != nil || json.Unmarshal(m.Result, &got) != nil {
				t.Fatalf("tasks/get %s: %+v %s", created.TaskID, m.Error, m.Result)
			}
			if got.TaskID != created.TaskID {
				t.Fatalf("tasks/get answered task %q, want the client's %q", got.TaskID, created.TaskID)
			}
		}
		if len(got.Result.Content) != 1 || got.Result.Content[0].Text != "done by "+replica {
			t.Fatalf("task %s completed with %+v", created.TaskID, got.Result)
		}
		if m := c.call("tasks/update", `{"taskId":"`+created.TaskID+`","inputResponses":{}}`, created.TaskID); m.Error != nil {
			t.Fatalf("tasks/update: %+v", m.Error)
		}
		if m := c.call("tasks/cancel", `{"taskId":"`+created.TaskID+`"}`, created.TaskID); m.Error != nil {
			t.Fatalf("tasks/cancel: %+v", m.Error)
		}
	}
	if ack, notified := c.listenTasks(last); !slices.Equal(ack, []string{last}) || !slices.Equal(notified, []string{last}) {
		t.Errorf("listen for %s: acknowledged %q, notified %q", last, ack, notified)
	}
	if owners["A"] != 2 || owners["B"] != 2 {
		t.Errorf("tasks by replica %v, want 2 and 2", owners)
	}
	if m := c.call("tasks/cancel", `{"taskId":"mcpgw:a:task-x"}`, "mcpgw:a:task-x"); m.Error == nil || m.Error.Code != codeBlocked {
		t.Errorf("a tasks/cancel the rule blocks: %+v", m.Error)
	}
	if m := c.call("tasks/get", `{"taskId":"mcpgw:c:task-A-1"}`, "mcpgw:c:task-A-1"); m.Error == nil || m.Error.Code != -32602 {
		t.Errorf("a task id of no member: %+v", m.Error)
	}
}

// taskReplicaSite is a site with two task server replicas, a and b (A and
// B), under round_robin, and lines of its own.
type taskReplicaSite struct {
	name string
	site func(lines ...string) string
}

// taskReplicaSites are the task server's replicas over HTTP and over stdio
// (over stdio with the default shared 2: a task id is tagged by its process,
// then by its replica).
func taskReplicaSites(t *testing.T) []taskReplicaSite {
	bin := taskServer.get(t)
	site := func(a, b, extra string) func(...string) string {
		return func(lines ...string) string {
			return fmt.Sprintf(siteAddr+" {\n\tbind 127.0.0.1\n\tmcp_proxy /mcp {\n\t\t%s {\n\t\t\tname a%s\n\t\t}\n\t\t%s {\n\t\t\tname b%s\n\t\t}\n\t\tlb_policy round_robin\n\t\t%s\n\t}\n}\n",
				a, extra, b, extra, strings.Join(lines, "\n\t\t"))
		}
	}
	return []taskReplicaSite{
		{"http", site("http "+caddyfileQuote(startTaskServerHTTP(t, "A")), "http "+caddyfileQuote(startTaskServerHTTP(t, "B")), "")},
		{"stdio", site("stdio "+caddyfileQuote(bin)+" -name A", "stdio "+caddyfileQuote(bin)+" -name B", "\n\t\t\tprotocol auto")},
	}
}

// TestTasksInSessions: 2025-11-25 tasks (core protocol) in sessions on
// two replicas, over HTTP and stdio: the session stays on its replica, so
// its task requests — tools/call with params.task, tasks/get, tasks/result
// — reach the replica that made the task, untouched.
func TestTasksInSessions(t *testing.T) {
	for _, tc := range taskReplicaSites(t) {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			wc := newWireClient(t, startProxy(t, tc.site("record "+caddyfileQuote(dir)))+"/mcp")
			for range 2 {
				followSessionTask(t, wc)
			}
			// A session's tape replays in its recorded order, with no
			// server: the task progresses as it did.
			unloadProxy(t)
			tapes, _ := tape.List(dir)
			if len(tapes) != 2 {
				t.Fatalf("tapes %v, want one per session", tapes)
			}
			replay := fmt.Sprintf(siteAddr+" {\n\tbind 127.0.0.1\n\tmcp_proxy /mcp {\n\t\treplay %s\n\t}\n}\n", caddyfileQuote(tapes[0]))
			followSessionTask(t, newWireClient(t, startProxy(t, replay)+"/mcp"))
		})
	}
}

// followSessionTask starts a 2025-11-25 session, creates a task in it and
// follows the task to its result.
func followSessionTask(t *testing.T, wc *wireClient) {
	t.Helper()
	session, replica := servedBy(t, wc)
	post := func(id int, method, params string) rpcMessage {
		t.Helper()
		resp, body := wc.post(session, "2025-11-25", fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, id, method, params), nil)
		return responseTo(t, resp, body, fmt.Sprint(id))
	}
	var created struct{ Task taskState }
	if m := post(2, "tools/call", `{"name":"slow","arguments":{},"task":{"ttl":60000}}`); m.Error != nil || json.Unmarshal(m.Result, &created) != nil || created.Task.TaskID == "" {
		t.Fatalf("tools/call with a task: %+v %s", m.Error, m.Result)
	}
	id := created.Task.TaskID
	if !strings.HasPrefix(id, "task-"+replica+"-") {
		t.Errorf("session on %s got task %q", replica, id)
	}
	var got taskState
	for polls := 3; got.Status != "completed"; polls++ {
		if polls == 13 {
			t.Fatalf("task %s still %q", id, got.Status)
		}
		if m := post(polls, "tasks/get", `{"taskId":"`+id+`"}`); m.Error != nil || json.Unmarshal(m.Result, &got) != nil || got.TaskID != id {
			t.Fatalf("tasks/get: %+v %s", m.Error, m.Result)
		}
	}
	var result struct{ Content []struct{ Text string } }
	if m := post(20, "tasks/result", `{"taskId":"`+id+`"}`); m.Error != nil || json.Unmarshal(m.Result, &result) != nil ||
		len(result.Content) != 1 || result.Content[0].Text != "done by "+replica {
		t.Fatalf("tasks/result: %+v %s", m.Error, m.Result)
	}
}

// tapedTaskRequests counts the task requests the tapes in dir hold, by
// method (tasks/cancel also by what the pipeline did).
func tapedTaskRequests(t *testing.T, dir string) map[string]int {
	t.Helper()
	got := map[string]int{}
	paths, _ := tape.List(dir)
	for _, path := range paths {
		f, err := tape.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range f.Records {
			var m struct{ Method string }
			if r.Dir != tape.ClientToServer || json.Unmarshal(r.Msg, &m) != nil || !strings.HasPrefix(m.Method, "tasks/") {
				continue
			}
			if m.Method == "tasks/cancel" {
				m.Method += " " + r.Pipeline.Action
			}
			got[m.Method]++
		}
	}
	return got
}
