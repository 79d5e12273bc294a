package remote

import (
	"context"
	"net/http"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// Mcp-Name follows the name the upstream's body carries: the client's value
// byte for byte when the body kept it, the body's own (base64 where it is
// not header-safe) when something in between rewrote it; the Mcp-Param-*
// headers pass whatever their names.
func TestMirroredNameFollowsTheBody(t *testing.T) {
	p := startPeer(t, hsFake(func(w http.ResponseWriter, r *http.Request, m *pipeline.Message) {
		writeJSONMessage(w, http.StatusOK, pipeline.NewResult(m.ID, []byte(`{}`)))
	}))
	h := newTestHTTP(t, Config{URL: p.srv.URL})
	tests := []struct {
		name, method, body, client, want string
	}{
		{"unchanged tool", "tools/call", `{"name":"echo",` + hsMeta + `}`, "echo", "echo"},
		{"unchanged, base64 as the client sent it", "tools/call", `{"name":"echo",` + hsMeta + `}`, "=?base64?ZWNobw==?=", "=?base64?ZWNobw==?="},
		{"rewritten tool", "tools/call", `{"name":"search_docs",` + hsMeta + `}`, "docs__search", "search_docs"},
		{"rewritten prompt", "prompts/get", `{"name":"greet",` + hsMeta + `}`, "people__greet", "greet"},
		{"rewritten resource", "resources/read", `{"uri":"file:///b.txt",` + hsMeta + `}`, "file:///a.txt", "file:///b.txt"},
		{"rewritten to a name that is not header-safe", "tools/call", `{"name":"héllo",` + hsMeta + `}`, "hello", "=?base64?aMOpbGxv?="},
		{"rewritten to a name with an edge space", "tools/call", `{"name":" x",` + hsMeta + `}`, "x", "=?base64?IHg=?="},
		{"a method without a name keeps the client's", "tools/list", `{` + hsMeta + `}`, "", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := `{"jsonrpc":"2.0","id":` + string(rune('0'+i%10)) + `,"method":"` + tt.method + `","params":` + tt.body + `}`
			hdr := hsHeader(tt.method, tt.client)
			hdr.Set("Mcp-Param-Region", "eu-west-1")
			hdr.Set("Mcp-Param-Unknown-To-Us", "x")
			before := len(p.requests(""))
			if err := h.Call(context.Background(), &upstream.StatelessRequest{Message: mustParse(t, raw), Header: hdr}, newHSRecorder().deliver); err != nil {
				t.Fatal(err)
			}
			reqs := p.requests("")
			if len(reqs) != before+1 {
				t.Fatalf("%d requests, want %d", len(reqs), before+1)
			}
			got := reqs[len(reqs)-1].header
			if got.Get("Mcp-Name") != tt.want {
				t.Errorf("Mcp-Name %q, want %q", got.Get("Mcp-Name"), tt.want)
			}
			if got.Get("Mcp-Param-Region") != "eu-west-1" || got.Get("Mcp-Param-Unknown-To-Us") != "x" {
				t.Errorf("Mcp-Param-* not forwarded: %v", got)
			}
		})
	}
}
