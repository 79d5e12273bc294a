package filter_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/filter"
)

func parse(t testing.TB, s string) *pipeline.Message {
	t.Helper()
	m, err := pipeline.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var config = filter.Config{
	Tools:     &filter.Rules{Allow: []string{"git_*", "echo"}, Deny: []string{"git_push"}},
	Prompts:   &filter.Rules{Deny: []string{"secret*"}},
	Resources: &filter.Rules{Deny: []string{"file:///secret/*"}},
}

func TestRequests(t *testing.T) {
	tests := []struct {
		name, msg string
		refused   string // the error message, "" when passed on
	}{
		{"allowed tool", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"git_log"}}`, ""},
		{"allowed by the second glob", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`, ""},
		{"deny wins over allow", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"git_push"}}`, `unknown tool "git_push"`},
		{"not allowed", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"rm_rf"}}`, `unknown tool "rm_rf"`},
		{"no allow line: all but denied", `{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"greet"}}`, ""},
		{"denied prompt", `{"jsonrpc":"2.0","id":"p","method":"prompts/get","params":{"name":"secret_plan"}}`, `unknown prompt "secret_plan"`},
		{"read hidden", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///secret/a/b"}}`, "Resource not found"},
		{"subscribe hidden", `{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"file:///secret/x"}}`, "Resource not found"},
		{"unsubscribe hidden", `{"jsonrpc":"2.0","id":1,"method":"resources/unsubscribe","params":{"uri":"file:///secret/x"}}`, "Resource not found"},
		{"read visible", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///public/x"}}`, ""},
		{"other methods pass", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, ""},
		{"notifications pass", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, ""},
	}
	f := filter.New(config)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := parse(t, tt.msg)
			v := f.Handle(context.Background(), &pipeline.Exchange{Direction: pipeline.ToServer}, m)
			if tt.refused == "" {
				if v.Action != pipeline.Continue || v.Message != nil {
					t.Errorf("refused: %+v", v)
				}
				return
			}
			if v.Action != pipeline.Respond {
				t.Fatalf("passed: %+v", v)
			}
			var e struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			if json.Unmarshal(v.Message.Error, &e) != nil || e.Code != pipeline.CodeInvalidParams || e.Message != tt.refused || string(v.Message.ID) != string(m.ID) {
				t.Errorf("answer %s", v.Message.Raw)
			}
		})
	}
}

func TestLists(t *testing.T) {
	tests := []struct {
		name, method, result, want string // want "" = unchanged
	}{
		{"tools page", "tools/list",
			`{"tools":[{"name":"git_log","inputSchema":{}},{"name":"git_push"},{"name":"rm_rf"},{"name":"echo"}],"nextCursor":"c2"}`,
			`{"nextCursor":"c2","tools":[{"name":"git_log","inputSchema":{}},{"name":"echo"}]}`},
		{"a page left empty keeps its cursor", "tools/list", `{"tools":[{"name":"rm_rf"}],"nextCursor":"c3"}`, `{"nextCursor":"c3","tools":[]}`},
		{"nothing hidden: byte for byte", "tools/list", `{"tools": [{"name":"echo"}]}`, ""},
		{"prompts", "prompts/list", `{"prompts":[{"name":"greet"},{"name":"secret"}]}`, `{"prompts":[{"name":"greet"}]}`},
		{"resources", "resources/list", `{"resources":[{"uri":"file:///secret/a","name":"a"},{"uri":"file:///b","name":"b"}]}`,
			`{"resources":[{"uri":"file:///b","name":"b"}]}`},
		{"templates", "resources/templates/list", `{"resourceTemplates":[{"uriTemplate":"file:///secret/{x}"},{"uriTemplate":"file:///{y}"}]}`,
			`{"resourceTemplates":[{"uriTemplate":"file:///{y}"}]}`},
		{"other results pass", "tools/call", `{"tools":[{"name":"rm_rf"}]}`, ""},
		{"an entry without a name goes", "tools/list", `{"tools":[{"name":"echo"},{"title":"x"}]}`, `{"tools":[{"name":"echo"}]}`},
	}
	f := filter.New(config)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := parse(t, `{"jsonrpc":"2.0","id":4,"result":`+tt.result+`}`)
			v := f.Handle(context.Background(), &pipeline.Exchange{Direction: pipeline.ToClient, RequestMethod: tt.method}, m)
			if v.Action != pipeline.Continue {
				t.Fatalf("%+v", v)
			}
			if tt.want == "" {
				if v.Message != nil {
					t.Errorf("changed: %s", v.Message.Raw)
				}
				return
			}
			if v.Message == nil || string(v.Message.Result) != tt.want || string(v.Message.ID) != "4" {
				t.Errorf("got %+v", v.Message)
			}
		})
	}
}

func TestNoRulesNoChange(t *testing.T) {
	f := filter.New(filter.Config{Tools: &filter.Rules{}})
	m := parse(t, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"anything"}}`)
	if v := f.Handle(context.Background(), &pipeline.Exchange{}, m); v.Action != pipeline.Continue || v.Message != nil {
		t.Errorf("%+v", v)
	}
}
