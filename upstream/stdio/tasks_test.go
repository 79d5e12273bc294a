package stdio

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/tags"
)

// taskMeta declares the tasks extension, as a client that wants tasks does.
const taskMeta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"extensions":{"io.modelcontextprotocol/tasks":{}}}}`

// taskRequest is a 2026 request of method with params (a JSON object's
// members, without _meta).
func taskRequest(t *testing.T, method, params string) *upstream.StatelessRequest {
	t.Helper()
	if params != "" {
		params += ","
	}
	return &upstream.StatelessRequest{Message: mustParse(t, fmt.Sprintf(
		`{"jsonrpc":"2.0","id":7,"method":%q,"params":{%s%s}}`, method, params, taskMeta))}
}

// callOnce sends req and returns everything delivered.
func callOnce(t *testing.T, s *Upstream, req *upstream.StatelessRequest) []*pipeline.Message {
	t.Helper()
	c := newCollector()
	if err := s.Call(context.Background(), req, c.deliver); err != nil {
		t.Fatalf("%s: %v", req.Message.Method, err)
	}
	return c.msgs
}

// taskOf reads the task a tasks/* or tools/call result reports.
func taskOf(t *testing.T, m *pipeline.Message) (id, status string) {
	t.Helper()
	var r struct {
		TaskID string `json:"taskId"`
		Status string `json:"status"`
	}
	if m.Error != nil || json.Unmarshal(m.Result, &r) != nil || r.TaskID == "" {
		t.Fatalf("not a task: %s", m.Raw)
	}
	return r.TaskID, r.Status
}

// TestSharedProcessTasks: with two shared processes (caddytest/taskserver,
// whose processes both mint "task-A-1"), each task id comes back tagged
// with the process that made it, and tasks/get, tasks/update, tasks/cancel
// and a listen naming it reach that process, whichever is least loaded; a
// forged tag, and one naming a process that exited, are -32602 as an
// unknown task is. Failed before: ids untagged, and the tasks/get of the
// second process's task went to the first, which did not know it.
func TestSharedProcessTasks(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "taskserver")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/caddy-mcp/caddy-mcp/caddytest/taskserver").CombinedOutput(); err != nil {
		t.Fatalf("building the task server: %v\n%s", err, out)
	}
	p, err := pool.New(pool.Config{Command: bin, MaxProcesses: 4, Warm: pool.NoWarm, StopTimeout: 500 * time.Millisecond, AcquireTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s := upstreamOn(t, p, Options{Protocol: ProtocolModern, Shared: 2, MaxInFlight: 1})

	// Hold the first process at its limit, so the next task is the second's.
	holdCtx, release := context.WithCancel(context.Background())
	held := make(chan error, 1)
	go func() {
		held <- s.Call(holdCtx, taskRequest(t, "tools/call", `"name":"hold","arguments":{}`), func(*pipeline.Message, int) {})
	}()
	waitShared(t, s, func(sh *share) bool { return len(sh.procs) == 1 && sh.procs[0].load == 1 })
	second, _ := taskOf(t, callOnce(t, s, taskRequest(t, "tools/call", `"name":"slow","arguments":{}`))[0])
	release()
	<-held
	if second != "mcpgw:2:task-A-1" {
		t.Fatalf("the second process's task is %q, want it tagged with the process", second)
	}
	// Both processes are idle now: untagged, this would go to the first.
	if id, status := taskOf(t, callOnce(t, s, taskRequest(t, "tasks/get", `"taskId":"`+second+`"`))[0]); id != second || status != "working" {
		t.Fatalf("tasks/get %s answered %s %s", second, id, status)
	}
	first, _ := taskOf(t, callOnce(t, s, taskRequest(t, "tools/call", `"name":"slow","arguments":{}`))[0])
	if first != "mcpgw:1:task-A-1" {
		t.Fatalf("the first process's task is %q", first)
	}
	for _, id := range []string{first, second} {
		for _, method := range []string{"tasks/get", "tasks/update", "tasks/cancel"} {
			if m := callOnce(t, s, taskRequest(t, method, `"taskId":"`+id+`"`))[0]; m.Error != nil {
				t.Errorf("%s %s: %s", method, id, m.Raw)
			}
		}
	}
	listen := callOnce(t, s, taskRequest(t, "subscriptions/listen", `"notifications":{"taskIds":["`+first+`"]}`))
	if len(listen) < 2 || !strings.Contains(string(listen[0].Params), first) || !strings.Contains(string(listen[1].Params), first) {
		t.Errorf("listen for %s: %v", first, listen)
	}

	for _, id := range []string{"mcpgw:9:task-A-1", "mcpgw:x:task-A-1"} {
		if m := callOnce(t, s, taskRequest(t, "tasks/get", `"taskId":"`+id+`"`))[0]; errorCode(m) != pipeline.CodeInvalidParams {
			t.Errorf("tasks/get of a forged tag %s: %s", id, m.Raw)
		}
	}
	s.shared.mu.Lock()
	gone := s.shared.anon.procs[1]
	s.shared.mu.Unlock()
	gone.mux.close()
	waitShared(t, s, func(sh *share) bool { return len(sh.procs) == 1 })
	if m := callOnce(t, s, taskRequest(t, "tasks/get", `"taskId":"`+second+`"`))[0]; errorCode(m) != pipeline.CodeInvalidParams || strings.Contains(string(m.Error), bin) {
		t.Errorf("tasks/get of an exited process's task: %s", m.Raw)
	}
}

// waitShared waits until the anonymous share satisfies cond.
func waitShared(t *testing.T, s *Upstream, cond func(*share) bool) {
	t.Helper()
	for range 1000 {
		s.shared.mu.Lock()
		ok := cond(&s.shared.anon)
		s.shared.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the shared processes never reached the state")
}

// errorCode is m's JSON-RPC error code, or 0 when m is no error.
func errorCode(m *pipeline.Message) int {
	var e struct {
		Code int `json:"code"`
	}
	_ = json.Unmarshal(m.Error, &e)
	return e.Code
}

// TestClusteredProcessTasks: with a cluster (tags.Clustered) even a share
// of one process tags its task ids, as Owned, so that the sealed tag names
// the instance the process lives on; tasks/get with it reaches the
// process. Without a cluster a share of one tags nothing, as before.
func TestClusteredProcessTasks(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "taskserver")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/caddy-mcp/caddy-mcp/caddytest/taskserver").CombinedOutput(); err != nil {
		t.Fatalf("building the task server: %v\n%s", err, out)
	}
	p, err := pool.New(pool.Config{Command: bin, MaxProcesses: 2, Warm: pool.NoWarm, StopTimeout: 500 * time.Millisecond, AcquireTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s := upstreamOn(t, p, Options{Protocol: ProtocolModern, Shared: 1})
	call := func(ctx context.Context, req *upstream.StatelessRequest) *pipeline.Message {
		c := newCollector()
		if err := s.Call(ctx, req, c.deliver); err != nil {
			t.Fatalf("%s: %v", req.Message.Method, err)
		}
		return c.msgs[0]
	}
	plain, _ := taskOf(t, call(context.Background(), taskRequest(t, "tools/call", `"name":"slow","arguments":{}`)))
	if strings.HasPrefix(plain, "mcpgw") {
		t.Fatalf("without a cluster a share of one tagged %q", plain)
	}
	clustered := tags.WithCluster(context.Background())
	id, _ := taskOf(t, call(clustered, taskRequest(t, "tools/call", `"name":"slow","arguments":{}`)))
	if name, _, ok := tags.Open(id); !ok || name != tags.Owned("1") {
		t.Fatalf("with a cluster the task id is %q, want it tagged as the process's own", id)
	}
	if got, status := taskOf(t, call(clustered, taskRequest(t, "tasks/get", `"taskId":"`+id+`"`))); got != id || status != "working" {
		t.Fatalf("tasks/get %s answered %s %s", id, got, status)
	}
}
