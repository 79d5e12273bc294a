package front

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/seal"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// processTasks is an upstream that mints task ids as a shared stdio
// process does with a cluster: tagged with the process, marked Owned
// ("mcpgw:@0:t1"), which the front seals naming its instance. It knows
// only its own task; subscriptions/listen gets the task's state as a
// notification before its answer (a stream).
func processTasks(_ context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
	const task = "mcpgw:@0:t1"
	m := req.Message
	var p struct {
		TaskID        string `json:"taskId"`
		Notifications struct {
			TaskIDs []string `json:"taskIds"`
		} `json:"notifications"`
	}
	_ = json.Unmarshal(m.Params, &p)
	unknown := pipeline.NewError(m.ID, pipeline.CodeInvalidParams, "unknown task")
	switch m.Method {
	case "tools/call":
		deliver(pipeline.NewResult(m.ID, []byte(`{"task":{"taskId":"`+task+`","status":"working"}}`)), http.StatusOK)
	case "tasks/get", "tasks/cancel", "tasks/result":
		if p.TaskID != task {
			deliver(unknown, http.StatusOK)
			return nil
		}
		result := `{"taskId":"` + task + `","status":"completed"}`
		if m.Method == "tasks/result" {
			result = `{"content":[{"type":"text","text":"done"}]}`
		}
		deliver(pipeline.NewResult(m.ID, []byte(result)), http.StatusOK)
	case "subscriptions/listen":
		if len(p.Notifications.TaskIDs) != 1 || p.Notifications.TaskIDs[0] != task {
			deliver(unknown, http.StatusOK)
			return nil
		}
		deliver(pipeline.NewNotification("notifications/tasks", []byte(`{"taskId":"`+task+`","status":"completed"}`)), http.StatusOK)
		deliver(pipeline.NewResult(m.ID, []byte(`{}`)), http.StatusOK)
	default:
		deliver(pipeline.NewResult(m.ID, []byte(`{"tools":[]}`)), http.StatusOK)
	}
	return nil
}

// taskNode is an instance of a cluster serving 2026-07-28 requests with
// processTasks: its own listener, node_url and Hops.
type taskNode struct {
	ts   *httptest.Server
	up   *statelessFake
	c    *Cluster
	node string
}

func newTaskNode(t *testing.T, ring *seal.Ring) *taskNode {
	t.Helper()
	c := &Cluster{Ring: ring, Endpoint: "api", Hops: NewHops()}
	ts, up := newStatelessServerWith(t, Config{Clients: headerUsers, Cluster: c}, processTasks)
	c.Node = ts.URL
	t.Cleanup(c.Hops.CloseIdleConnections)
	return &taskNode{ts: ts, up: up, c: c, node: ts.URL}
}

// served is how many requests n's upstream got since the last call.
func (n *taskNode) served() int {
	k := 0
	for {
		select {
		case <-n.up.seen:
			k++
		default:
			return k
		}
	}
}

// taskBody is a 2026-07-28 request of method naming taskID.
func taskBody(id int, method, taskID string) string {
	params := `{"taskId":"` + taskID + `",` + statelessMeta + `}`
	switch method {
	case "tools/call":
		params = `{"name":"slow",` + statelessMeta + `}`
	case "subscriptions/listen":
		params = `{"notifications":{"taskIds":["` + taskID + `"]},` + statelessMeta + `}`
	}
	b, _ := json.Marshal(id)
	return `{"jsonrpc":"2.0","id":` + string(b) + `,"method":"` + method + `","params":` + params + `}`
}

// postTask sends body (of method) to url as user with extra headers and
// returns the answer's status, content type and body.
func postTask(t *testing.T, url, user, method, body string, hdr map[string]string) (int, string, string) {
	t.Helper()
	h := map[string]string{"Mcp-Method": method, "X-Test-User": user}
	if method == "tools/call" {
		h["Mcp-Name"] = "slow"
	}
	for k, v := range hdr {
		h[k] = v
	}
	resp, err := http.DefaultClient.Do(statelessRequest(t, url, body, h))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// createTask makes a task on n for user and returns its (sealed) id.
func createTask(t *testing.T, n *taskNode, user string) string {
	t.Helper()
	status, _, body := postTask(t, n.ts.URL, user, "tools/call", taskBody(1, "tools/call", ""), nil)
	var res struct {
		Task struct {
			TaskID string `json:"taskId"`
		} `json:"task"`
	}
	if m := decodeMsg(t, []byte(body)); status != http.StatusOK || json.Unmarshal(m.Result, &res) != nil || !strings.HasPrefix(res.Task.TaskID, "mcpgw.") {
		t.Fatalf("tools/call on the owner: %d %s", status, body)
	}
	tag, err := n.c.Ring.OpenTag(strings.TrimPrefix(res.Task.TaskID, "mcpgw."), seal.Binding{Endpoint: "api", User: user})
	if err != nil || tag.Owner != n.node {
		t.Fatalf("the task id names owner %q (%v), want %q", tag.Owner, err, n.node)
	}
	n.served()
	return res.Task.TaskID
}

// TestStatelessForwardToOwner: a task id minted by a process of A, used
// through B, is forwarded to A and served there — tasks/get, tasks/result,
// tasks/cancel, and subscriptions/listen naming it, whose answer streams
// through; B's upstream sees none of them, and a request with no tag is
// still served by B. Failed before: B answered each -32602.
func TestStatelessForwardToOwner(t *testing.T) {
	ring := testRing(t)
	a, b := newTaskNode(t, ring), newTaskNode(t, ring)
	task := createTask(t, a, "alice")
	for i, method := range []string{"tasks/get", "tasks/result", "tasks/cancel"} {
		status, _, body := postTask(t, b.ts.URL, "alice", method, taskBody(10+i, method, task), nil)
		m := decodeMsg(t, []byte(body))
		if status != http.StatusOK || m.Error != nil || string(m.ID) != strconv.Itoa(10+i) {
			t.Fatalf("%s through B: %d %s", method, status, body)
		}
		var res struct {
			TaskID string `json:"taskId"`
		}
		if _ = json.Unmarshal(m.Result, &res); method != "tasks/result" && !sameTag(ring, "alice", res.TaskID, task) {
			t.Errorf("%s through B: the answer's task id is not the client's: %s", method, body)
		}
	}
	status, ctype, body := postTask(t, b.ts.URL, "alice", "subscriptions/listen", taskBody(20, "subscriptions/listen", task), nil)
	if status != http.StatusOK || ctype != "text/event-stream" || !strings.Contains(body, "notifications/tasks") || !strings.Contains(body, `"id":20`) {
		t.Fatalf("subscriptions/listen through B: %d %s %s", status, ctype, body)
	}
	if got, want := a.served(), 4; got != want {
		t.Errorf("A's upstream served %d requests, want %d", got, want)
	}
	if got := b.served(); got != 0 {
		t.Errorf("B's upstream served %d requests, want none", got)
	}
	if status, _, body := postTask(t, b.ts.URL, "alice", "tools/list", `{"jsonrpc":"2.0","id":30,"method":"tools/list","params":{`+statelessMeta+`}}`, nil); status != http.StatusOK || b.served() != 1 {
		t.Errorf("an untagged request on B: %d %s, served by B's upstream %v", status, body, b.served())
	}
}

// sameTag reports whether two sealed tags of user carry the same value
// and owner (each sealing has a nonce of its own).
func sameTag(ring *seal.Ring, user, x, y string) bool {
	bind := seal.Binding{Endpoint: "api", User: user}
	tx, errx := ring.OpenTag(strings.TrimPrefix(x, "mcpgw."), bind)
	ty, erry := ring.OpenTag(strings.TrimPrefix(y, "mcpgw."), bind)
	return errx == nil && erry == nil && tx == ty
}

// TestStatelessOwnerGone: with A gone, its task id through B is -32602 as
// a task no server knows is, naming no address.
func TestStatelessOwnerGone(t *testing.T) {
	ring := testRing(t)
	a, b := newTaskNode(t, ring), newTaskNode(t, ring)
	task := createTask(t, a, "alice")
	a.ts.CloseClientConnections()
	a.ts.Close()
	status, _, body := postTask(t, b.ts.URL, "alice", "tasks/get", taskBody(2, "tasks/get", task), nil)
	m := decodeMsg(t, []byte(body))
	if status != http.StatusOK || m.Error == nil || m.Error.Code != pipeline.CodeInvalidParams {
		t.Fatalf("tasks/get of a gone owner's task: %d %s, want -32602", status, body)
	}
	if strings.Contains(body, "127.0.0.1") || strings.Contains(body, a.node) {
		t.Errorf("the error names the owner: %s", body)
	}
}

// TestStatelessHopRefused: a 2026-07-28 request sent to the owner with a
// hop token is served only when the token was made for this very request
// (its body), this user and endpoint, is fresh and new; otherwise it is
// -32602, as a task no server knows, and never reaches the upstream. A
// forwarded request is never forwarded again.
func TestStatelessHopRefused(t *testing.T) {
	ring := testRing(t)
	a, b := newTaskNode(t, ring), newTaskNode(t, ring)
	task := createTask(t, a, "alice")
	alice := seal.Binding{Endpoint: "api", User: "alice"}
	get := taskBody(3, "tasks/get", task)
	now := time.Now()
	good := ring.SealHop(alice, seal.RequestSubject([]byte(get)), http.MethodPost, now)
	if status, _, body := postTask(t, a.ts.URL, "alice", "tasks/get", get, map[string]string{HopHeader: good}); status != http.StatusOK || strings.Contains(body, "error") {
		t.Fatalf("a good token was refused: %d %s", status, body)
	}
	if a.served() != 1 {
		t.Fatal("the upstream did not get the request with a good token")
	}
	cancel := taskBody(3, "tasks/cancel", task)
	// A task of a third instance, which B forwards nowhere once forwarded.
	third := "mcpgw." + (&Cluster{Ring: ring, Endpoint: "api", Node: a.node}).codec("alice").Seal("@0:t1", true)
	thirdGet := taskBody(4, "tasks/get", third)
	for _, tc := range []struct {
		name, user, method, body, token string
		to                              *taskNode
	}{
		{"a forged token", "alice", "tasks/get", get, strings.Repeat("A", len(good)), a},
		{"a replayed token", "alice", "tasks/get", get, good, a},
		{"a token of another key", "alice", "tasks/get", get, testRing(t).SealHop(alice, seal.RequestSubject([]byte(get)), http.MethodPost, now), a},
		{"an expired token", "alice", "tasks/get", get, ring.SealHop(alice, seal.RequestSubject([]byte(get)), http.MethodPost, now.Add(-time.Minute)), a},
		{"a token for another request", "alice", "tasks/cancel", cancel, ring.SealHop(alice, seal.RequestSubject([]byte(get)), http.MethodPost, now), a},
		{"alice's token, mallory's credentials", "mallory", "tasks/get", get, ring.SealHop(alice, seal.RequestSubject([]byte(get)), http.MethodPost, now), a},
		{"a session's token", "alice", "tasks/get", get, ring.SealHop(alice, "sid", http.MethodPost, now), a},
		{"a good token, a task of another instance", "alice", "tasks/get", thirdGet, ring.SealHop(alice, seal.RequestSubject([]byte(thirdGet)), http.MethodPost, now), b},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := postTask(t, tc.to.ts.URL, tc.user, tc.method, tc.body, map[string]string{HopHeader: tc.token})
			m := decodeMsg(t, []byte(body))
			if status != http.StatusOK || m.Error == nil || m.Error.Code != pipeline.CodeInvalidParams {
				t.Errorf("answered %d %s, want -32602", status, body)
			}
			if n := a.served() + b.served(); n != 0 {
				t.Errorf("an upstream got %d requests", n)
			}
		})
	}
}
