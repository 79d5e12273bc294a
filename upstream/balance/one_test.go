package balance

import (
	"context"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// paramsEcho is a member that answers every request with its params, as
// it got them.
type paramsEcho struct{ fake }

func (e *paramsEcho) Call(_ context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
	deliver(pipeline.NewResult(req.Message.ID, req.Message.Params), 200)
	return nil
}

// TestGroupOfOnePassesTags: a group of one member (an upstream with
// health checks) tags nothing, so a tag in a request is its member's own
// — a shared stdio process's cursor, requestState or task id — and reaches
// the member as it is; a group of two reads its own. Failed before: the
// group of one read the process's tag as a member's and answered -32602.
func TestGroupOfOnePassesTags(t *testing.T) {
	one := &paramsEcho{fake{name: "one"}}
	g, err := New(Config{Members: []*Member{member(t, one, "stdio", HealthConfig{})}})
	if err != nil {
		t.Fatal(err)
	}
	for _, params := range []string{
		`{"cursor":"mcpgw:2:page2"}`,
		`{"name":"ask","requestState":"mcpgw:2:state"}`,
		`{"taskId":"mcpgw:2:task-1"}`,
	} {
		var got []*pipeline.Message
		req := request(t, `{"jsonrpc":"2.0","id":7,"method":"tools/list","params":`+params+`}`)
		if err := g.Call(context.Background(), &upstream.StatelessRequest{Message: req}, func(m *pipeline.Message, _ int) {
			got = append(got, m)
		}); err != nil {
			t.Fatalf("Call: %v", err)
		}
		if len(got) != 1 || got[0].Error != nil || string(got[0].Result) != params || strings.Contains(string(got[0].Result), "mcpgw:stdio") {
			t.Errorf("%s through a group of one: %d answers, the first %s; want it passed as it is", params, len(got), got[0].Raw)
		}
	}
}
