package mcptrace

import (
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/propagation"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

func mustParse(t testing.TB, s string) *pipeline.Message {
	t.Helper()
	m, err := pipeline.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSpanName(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`, "tools/call echo"},
		{`{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"greet"}}`, "prompts/get greet"},
		{`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///secret/a.txt"}}`, "resources/read"},
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}`, "tools/call"},
		{`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, "tools/list"},
	}
	for _, tt := range tests {
		if got := spanName(mustParse(t, tt.body)); got != tt.want {
			t.Errorf("spanName(%s) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

// The trace context goes into params._meta and nothing else of the
// message changes: not its spacing, not its order, not its other members.
func TestInjectMeta(t *testing.T) {
	carrier := propagation.MapCarrier{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate": "k=v"}
	tests := []struct{ name, in, want string }{
		{"no params", `{"jsonrpc":"2.0","id":1,"method":"ping"}`,
			`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","tracestate":"k=v"}}}`},
		{"params without _meta", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo" , "arguments":{}}}`,
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo" , "arguments":{},"_meta":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","tracestate":"k=v"}}}`},
		{"the client's traceparent replaced", `{"jsonrpc":"2.0","id":"a","method":"tools/list","params":{"_meta":{"traceparent":"00-11111111111111111111111111111111-2222222222222222-01","x":1}}}`,
			`{"jsonrpc":"2.0","id":"a","method":"tools/list","params":{"_meta":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","x":1,"tracestate":"k=v"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := injectMeta(mustParse(t, tt.in), carrier)
			if err != nil {
				t.Fatal(err)
			}
			if string(out.Raw) != tt.want {
				t.Errorf("got  %s\nwant %s", out.Raw, tt.want)
			}
			if out.Method != mustParse(t, tt.in).Method || string(out.ID) != string(mustParse(t, tt.in).ID) {
				t.Errorf("the envelope changed: %s %s", out.Method, out.ID)
			}
		})
	}
	if _, err := injectMeta(mustParse(t, `{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}`), carrier); err == nil {
		t.Error("params that are an array took a _meta")
	}
}

func TestClientContext(t *testing.T) {
	m := mustParse(t, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","tracestate":"k=v"}}}`)
	sc := clientContext(m)
	if !sc.IsValid() || !sc.IsRemote() || sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || sc.TraceState().Get("k") != "v" {
		t.Errorf("client context %+v", sc)
	}
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"traceparent":"garbage"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"traceparent":7}}}`,
	} {
		if sc := clientContext(mustParse(t, body)); sc.IsValid() {
			t.Errorf("%s gave a valid context", body)
		}
	}
}

func TestRequestID(t *testing.T) {
	for in, want := range map[string]string{`7`: "7", `"a-1"`: "a-1", `"\u0041"`: "A"} {
		if got := requestID([]byte(in)); got != want {
			t.Errorf("requestID(%s) = %q, want %q", in, got, want)
		}
	}
}

// Without a recording span in the request's context — no tracing —
// Start, End, the tap and the upstream's exchange hook change nothing
// and allocate nothing.
func TestUntracedCostsNothing(t *testing.T) {
	m := mustParse(t, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`)
	r := httptest.NewRequest("POST", "/mcp", strings.NewReader(""))
	ex := &pipeline.Exchange{}
	d := pipeline.Decision{Message: m, Verdict: pipeline.Verdict{Action: pipeline.Drop}}
	allocs := testing.AllocsPerRun(100, func() {
		ctx, q := Start(r, m, Info{}, Options{})
		q.End(m)
		Tap{}.Decided(ctx, ex, d)
		out, h, end := upstream.TraceExchange(ctx, upstream.Peer{}, m)
		if q != nil || out != m || h != nil || end != nil || ctx != r.Context() {
			t.Fatal("an untraced request was traced")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per untraced request, want 0", allocs)
	}
}
