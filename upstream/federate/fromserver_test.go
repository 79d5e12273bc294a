package federate

import (
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

func TestWithLogger(t *testing.T) {
	for _, tt := range []struct{ params, want string }{
		{`{"level":"info","data":"x"}`, `"logger":"docs"`},
		{`{"level":"info","logger":"db","data":"x"}`, `"logger":"docs/db"`},
	} {
		msg, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","method":"notifications/message","params":` + tt.params + `}`))
		if err != nil {
			t.Fatal(err)
		}
		out := withLogger("docs", msg)
		if !strings.Contains(string(out.Params), tt.want) || !strings.Contains(string(out.Raw), tt.want) {
			t.Errorf("%s → %s", tt.params, out.Raw)
		}
	}
}

// A server that answers an id the gateway gave another server's request
// leaves that request waiting for its own server's answer.
func TestAnswerOfAnotherServer(t *testing.T) {
	f, err := New(Config{Servers: []Server{{Name: "a", Upstream: &killable{}}, {Name: "b", Upstream: &killable{}}}})
	if err != nil {
		t.Fatal(err)
	}
	c := newConn(f, nil)
	defer c.Close()
	ch := make(chan *pipeline.Message, 1)
	c.pending["5"] = &pend{m: c.members[0], ch: ch}
	ans, _ := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":5,"result":{}}`))
	c.fromServer(c.members[1], ans, nil)
	if len(ch) != 0 || c.pending["5"] == nil {
		t.Fatal("server b answered server a's request")
	}
	c.fromServer(c.members[0], ans, nil)
	if len(ch) != 1 || c.pending["5"] != nil {
		t.Fatal("server a's own answer was not taken")
	}
}
