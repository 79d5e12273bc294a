package balance

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// taskFake is a member that creates a task for every tools/call (its id
// names the member), reports a task it is asked about with a notification
// first, and acknowledges a listen's task ids; it records what it received
// and the Mcp-Name header that came with it.
type taskFake struct {
	name string
	mu   sync.Mutex
	got  []string // params, then the Mcp-Name header, of every request
}

func (f *taskFake) Open(context.Context, upstream.Receiver) (upstream.Conn, error) {
	return nil, upstream.ErrSessionfulOnly
}

func (f *taskFake) Call(_ context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
	m := req.Message
	f.mu.Lock()
	f.got = append(f.got, string(m.Params)+" "+req.Header.Get("Mcp-Name"))
	f.mu.Unlock()
	var p struct {
		TaskID string `json:"taskId"`
	}
	_ = json.Unmarshal(m.Params, &p)
	switch m.Method {
	case "tools/call":
		deliver(pipeline.NewResult(m.ID, json.RawMessage(`{"resultType":"task","taskId":"t-`+f.name+`","status":"working"}`)), 200)
	case "tasks/get":
		deliver(pipeline.NewNotification("notifications/tasks", json.RawMessage(`{"taskId":"`+p.TaskID+`","status":"completed"}`)), 200)
		deliver(pipeline.NewResult(m.ID, json.RawMessage(`{"resultType":"complete","taskId":"`+p.TaskID+`","status":"completed","result":{"content":[]}}`)), 200)
	case "subscriptions/listen":
		deliver(pipeline.NewNotification("notifications/subscriptions/acknowledged", json.RawMessage(`{"notifications":{"taskIds":["t-`+f.name+`"]}}`)), 200)
		deliver(pipeline.NewResult(m.ID, json.RawMessage(`{}`)), 200)
	default:
		deliver(pipeline.NewResult(m.ID, json.RawMessage(`{}`)), 200)
	}
	return nil
}

func (f *taskFake) received() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

// TestTaskIDsTagged: a task's id reaches the client tagged with the member
// that created it, in the result and in notifications; tasks/get,
// tasks/update, tasks/cancel and a listen naming it go to that member with
// its own id in the body and in Mcp-Name, whatever the policy would pick;
// a forged tag or one naming two members is -32602.
func TestTaskIDsTagged(t *testing.T) {
	a, b := &taskFake{name: "a"}, &taskFake{name: "b"}
	g, _ := New(Config{Members: []*Member{member(t, a, "a", HealthConfig{}), member(t, b, "b", HealthConfig{})}})
	call := func(raw, mcpName string) []*pipeline.Message {
		t.Helper()
		var got []*pipeline.Message
		h := http.Header{}
		if mcpName != "" {
			h.Set("Mcp-Name", mcpName)
		}
		if err := g.Call(context.Background(), &upstream.StatelessRequest{Message: request(t, raw), Header: h}, func(m *pipeline.Message, _ int) {
			got = append(got, m)
		}); err != nil {
			t.Fatalf("Call %s: %v", raw, err)
		}
		return got
	}
	created := call(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow"}}`, "slow")
	var task struct {
		TaskID string `json:"taskId"`
	}
	if len(created) != 1 || json.Unmarshal(created[0].Result, &task) != nil || !strings.HasPrefix(task.TaskID, "mcpgw:") {
		t.Fatalf("tools/call: %v", created)
	}
	owner, other := a, b
	if task.TaskID != "mcpgw:a:t-a" {
		owner, other = b, a
	}
	own := "t-" + owner.name
	if task.TaskID != "mcpgw:"+owner.name+":"+own {
		t.Fatalf("task id %q", task.TaskID)
	}
	before := len(other.received())
	for i, tc := range []struct{ method, params string }{
		{"tasks/get", `{"taskId":"` + task.TaskID + `"}`},
		{"tasks/get", `{"taskId":"` + task.TaskID + `"}`},
		{"tasks/update", `{"taskId":"` + task.TaskID + `","inputResponses":{}}`},
		{"tasks/cancel", `{"taskId":"` + task.TaskID + `"}`},
	} {
		got := call(`{"jsonrpc":"2.0","id":`+string(rune('2'+i))+`,"method":"`+tc.method+`","params":`+tc.params+`}`, task.TaskID)
		last := owner.received()[len(owner.received())-1]
		if !strings.Contains(last, `"taskId":"`+own+`"`) || !strings.HasSuffix(last, " "+own) {
			t.Errorf("%s reached the owner as %s, want its own id in the body and in Mcp-Name", tc.method, last)
		}
		if tc.method == "tasks/get" {
			if len(got) != 2 || !strings.Contains(string(got[0].Params), `"taskId":"`+task.TaskID+`"`) ||
				!strings.Contains(string(got[1].Result), `"taskId":"`+task.TaskID+`"`) {
				t.Errorf("tasks/get answered %s %s, want the tagged id in the notification and the result", got[0].Raw, got[len(got)-1].Raw)
			}
		}
	}
	if n := len(other.received()); n != before {
		t.Errorf("the other member got %d task requests", n-before)
	}
	got := call(`{"jsonrpc":"2.0","id":10,"method":"subscriptions/listen","params":{"notifications":{"taskIds":["`+task.TaskID+`"]}}}`, "")
	last := owner.received()[len(owner.received())-1]
	if !strings.Contains(last, `"taskIds":["`+own+`"]`) || len(got) != 2 || !strings.Contains(string(got[0].Params), `"taskIds":["`+task.TaskID+`"]`) {
		t.Errorf("listen reached the owner as %s and was acknowledged %s", last, got[0].Raw)
	}
	for _, raw := range []string{
		`{"jsonrpc":"2.0","id":11,"method":"tasks/get","params":{"taskId":"mcpgw:gone:t-a"}}`,
		`{"jsonrpc":"2.0","id":12,"method":"subscriptions/listen","params":{"notifications":{"taskIds":["mcpgw:a:t-a","mcpgw:b:t-b"]}}}`,
	} {
		if got := call(raw, ""); len(got) != 1 || errorCode(got[0].Error) != pipeline.CodeInvalidParams {
			t.Errorf("%s answered %v, want -32602", raw, got)
		}
	}
}
