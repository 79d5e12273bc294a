package caddytest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
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
	resp, text := c.post("", "2026-07-28", body, h)
	return responseTo(c.t, resp, text, fmt.Sprint(c.id))
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
// too; and an intercept rule sees task requests like any other.
func TestTasksThroughReplicas(t *testing.T) {
	bin := taskServer.get(t)
	rule := "intercept no-cancel-x {\n\tmethod tasks/cancel\n\tfield /params/taskId x$\n\tblock \"not this one\"\n}"
	for _, tc := range []struct{ name, a, b string }{
		{"http", "http " + caddyfileQuote(startTaskServerHTTP(t, "A")), "http " + caddyfileQuote(startTaskServerHTTP(t, "B"))},
		{"stdio", "stdio " + caddyfileQuote(bin) + " -name A", "stdio " + caddyfileQuote(bin) + " -name B"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra := ""
			if tc.name == "stdio" {
				extra = "\n\t\t\tprotocol modern\n\t\t\tshared 1" // one process holds the replica's tasks
			}
			site := fmt.Sprintf(siteAddr+" {\n\tbind 127.0.0.1\n\tmcp_proxy /mcp {\n\t\t%s {\n\t\t\tname a%s\n\t\t}\n\t\t%s {\n\t\t\tname b%s\n\t\t}\n\t\tlb_policy round_robin\n\t\t%s\n\t}\n}\n",
				tc.a, extra, tc.b, extra, rule)
			c := &taskClient{wireClient: newWireClient(t, startProxy(t, site)+"/mcp")}
			owners := map[string]int{}
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
			if owners["A"] != 2 || owners["B"] != 2 {
				t.Errorf("tasks by replica %v, want 2 and 2", owners)
			}
			if m := c.call("tasks/cancel", `{"taskId":"mcpgw:a:task-x"}`, "mcpgw:a:task-x"); m.Error == nil || m.Error.Code != codeBlocked {
				t.Errorf("a tasks/cancel the rule blocks: %+v", m.Error)
			}
			if m := c.call("tasks/get", `{"taskId":"mcpgw:c:task-A-1"}`, "mcpgw:c:task-A-1"); m.Error == nil || m.Error.Code != -32602 {
				t.Errorf("a task id of no member: %+v", m.Error)
			}
		})
	}
}
