package pipeline_test

import (
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

func TestTarget(t *testing.T) {
	tests := []struct{ name, msg, want string }{
		{"tool", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"name":"inner"}}}`, "echo"},
		{"name after nested name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"name":"inner","x":[1,{"name":"deep"}]},"name":"echo"}}`, "echo"},
		{"prompt", `{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"greet"}}`, "greet"},
		{"resource read", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///a b"}}`, "file:///a b"},
		{"resource subscribe", `{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"x://y"}}`, "x://y"},
		{"escaped value", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a\u002fb\"c"}}`, `a/b"c`},
		{"escaped member name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"n\u0061me":"echo"}}`, "echo"},
		{"spaces", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\": { \"name\" : \"echo\" } }", "echo"},
		{"uri is not the tool's", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"uri":"x://y"}}`, ""},
		{"name is not the resource's", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"name":"x"}}`, ""},
		{"other method", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"name":"x"}}`, ""},
		{"not a string", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}`, ""},
		{"params not an object", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["echo"]}`, ""},
		{"no params", `{"jsonrpc":"2.0","id":1,"method":"tools/call"}`, ""},
		{"empty params", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}`, ""},
		{"response", `{"jsonrpc":"2.0","id":1,"result":{"name":"x"}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustParse(t, tt.msg).Target(); got != tt.want {
				t.Errorf("Target() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCompletionRef(t *testing.T) {
	for _, tt := range []struct{ name, msg, kind, ref string }{
		{"prompt", `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"greet"},"argument":{"name":"a","value":""}}}`, "prompt", "greet"},
		{"template", `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"argument":{"name":"a"},"ref":{"uri":"file:///{p}","type":"ref/resource"}}}`, "resource", "file:///{p}"},
		{"escaped", `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref\u002fprompt","n\u0061me":"gr\u0065et"}}}`, "prompt", "greet"},
		{"prompt without a name", `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","uri":"x"}}}`, "", ""},
		{"other type", `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/tool","name":"x"}}}`, "", ""},
		{"no ref", `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{}}`, "", ""},
		{"other method", `{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"ref":{"type":"ref/prompt","name":"x"}}}`, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if kind, ref := mustParse(t, tt.msg).CompletionRef(); kind != tt.kind || ref != tt.ref {
				t.Errorf("CompletionRef() = %q %q, want %q %q", kind, ref, tt.kind, tt.ref)
			}
		})
	}
}

func BenchmarkTarget(b *testing.B) {
	m, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"text":"hello world hello world"},"name":"echo"}}`))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if m.Target() != "echo" {
			b.Fatal("wrong target")
		}
	}
}

// TestExchangeServer: a message's server is what the endpoint resolves
// for its method and target; a completion's, that of the prompt (as its
// prompts/get) or resource template it completes; a response's, its
// request's.
func TestExchangeServer(t *testing.T) {
	servers := func(method, target string) (string, string) {
		return method + "@" + target, "own"
	}
	for _, tt := range []struct {
		name string
		ex   pipeline.Exchange
		msg  string
		want string
	}{
		{"tool", pipeline.Exchange{Servers: servers}, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a_x"}}`, "tools/call@a_x"},
		{"completion of a prompt", pipeline.Exchange{Servers: servers}, `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"a_greet"}}}`, "prompts/get@a_greet"},
		{"completion of a template", pipeline.Exchange{Servers: servers}, `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"x://{y}"}}}`, "completion/complete@x://{y}"},
		{"response", pipeline.Exchange{Servers: servers, RequestMethod: "prompts/get", RequestTarget: "a_greet"}, `{"jsonrpc":"2.0","id":1,"result":{}}`, "prompts/get@a_greet"},
		{"no federation", pipeline.Exchange{}, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a_x"}}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := tt.ex.Server(mustParse(t, tt.msg)); got != tt.want {
				t.Errorf("Server() = %q, want %q", got, tt.want)
			}
		})
	}
}
