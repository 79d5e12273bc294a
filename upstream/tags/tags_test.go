package tags

import (
	"errors"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// TestKinds: Tasks reads and writes task ids only (a cursor that looks
// like a tag passes to the server as it is); All every kind; tags nest;
// two names in one request are forged.
func TestKinds(t *testing.T) {
	for _, tc := range []struct {
		kinds        Kinds
		params, name string
		out          string // params after Untag
		err          error
	}{
		{Tasks, `{"taskId":"mcpgw:2:t1"}`, "2", `{"taskId":"t1"}`, nil},
		{Tasks, `{"cursor":"mcpgw:2:c"}`, "", `{"cursor":"mcpgw:2:c"}`, nil},
		{All, `{"cursor":"mcpgw:a:c"}`, "a", `{"cursor":"c"}`, nil},
		{All, `{"taskId":"mcpgw:a:mcpgw:2:t1"}`, "a", `{"taskId":"mcpgw:2:t1"}`, nil},
		{Tasks, `{"notifications":{"taskIds":["mcpgw:1:t","mcpgw:1:u"]}}`, "1", `{"notifications":{"taskIds":["t","u"]}}`, nil},
		{Tasks, `{"notifications":{"taskIds":["mcpgw:1:t","mcpgw:2:u"]}}`, "", "", ErrForged},
		{All, `{"cursor":"mcpgw:a:c","taskId":"mcpgw:b:t"}`, "", "", ErrForged},
	} {
		m, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":1,"method":"m","params":` + tc.params + `}`))
		if err != nil {
			t.Fatal(err)
		}
		name, out, err := Untag(m, tc.kinds)
		if !errors.Is(err, tc.err) || name != tc.name || (err == nil && string(out.Params) != tc.out) {
			t.Errorf("Untag(%s, %d) = %q, %s, %v", tc.params, tc.kinds, name, out.Params, err)
		}
	}
	// Tag touches only the members it tags: the rest of the result keeps
	// its bytes and its order.
	for _, tc := range []struct {
		kinds          Kinds
		method, result string
		want           string
	}{
		{Tasks, "tools/list", `{"nextCursor":"c","taskId":"t","requestState":"s"}`, `{"nextCursor":"c","taskId":"mcpgw:2:t","requestState":"s"}`},
		{All, "tools/list", `{"nextCursor":"c","taskId":"t","requestState":"s"}`, `{"nextCursor":"mcpgw:2:c","taskId":"mcpgw:2:t","requestState":"mcpgw:2:s"}`},
		{All, "tools/call", `{"nextCursor":"c", "requestState":"s"}`, `{"nextCursor":"c", "requestState":"mcpgw:2:s"}`},
		{All, "tools/list", `{"tools":[{"name":"x","nextCursor":"n"}],"nextCursor":""}`, `{"tools":[{"name":"x","nextCursor":"n"}],"nextCursor":""}`},
		{All, "tools/call", `{"requestState":7,"taskId":null}`, `{"requestState":7,"taskId":null}`},
	} {
		resp := pipeline.NewResult([]byte("1"), []byte(tc.result))
		if got := string(Tag(resp, tc.method, "2", tc.kinds).Result); got != tc.want {
			t.Errorf("Tag(%s, %s, %d) = %s, want %s", tc.method, tc.result, tc.kinds, got, tc.want)
		}
	}
}

// TestCreated: a 2025-11-25 CreateTaskResult's task id is tagged; other
// answers pass as they are.
func TestCreated(t *testing.T) {
	for _, tc := range []struct{ result, want string }{
		{`{"task":{"taskId":"t-1","status":"working"}}`, `{"task":{"taskId":"mcpgw:a:t-1","status":"working"}}`},
		{`{"content":[{"type":"text","text":"task"}]}`, `{"content":[{"type":"text","text":"task"}]}`},
		{`{"task":{"status":"working"}}`, `{"task":{"status":"working"}}`},
	} {
		got := Created(pipeline.NewResult([]byte("1"), []byte(tc.result)), "a")
		if string(got.Result) != tc.want {
			t.Errorf("Created(%s) = %s, want %s", tc.result, got.Result, tc.want)
		}
	}
}

// TestInner: the upstream's own string under any number of tags.
func TestInner(t *testing.T) {
	for in, want := range map[string]string{
		"c": "c", "mcpgw:a:c": "c", "mcpgw:a:mcpgw:2:c:d": "c:d", "mcpgw:a": "mcpgw:a", "": "",
	} {
		if got := Inner(in); got != want {
			t.Errorf("Inner(%q) = %q, want %q", in, got, want)
		}
	}
}
