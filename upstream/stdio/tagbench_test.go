package stdio

import (
	"context"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// BenchmarkSharedTags measures what tagging costs a shared process's
// answers on their way to the client (tagProcess's deliver): a page of
// tools/list with a nextCursor (tagged), a tools/call result (nothing to
// tag: a byte search per member that could be), and an input_required
// result with a requestState (tagged).
func BenchmarkSharedTags(b *testing.B) {
	tools := strings.Repeat(`{"name":"tool","description":"does a thing","inputSchema":{"type":"object"}},`, 49)
	s := &Upstream{opts: Options{Shared: 2}.withDefaults()}
	sp := &sharedProc{name: "2"}
	for _, bc := range []struct{ name, method, result string }{
		{"list", "tools/list", `{"tools":[` + tools + `{"name":"last"}],"nextCursor":"6f9619ff-8b86-d011-b42d-00c04fc964ff"}`},
		{"call", "tools/call", `{"content":[{"type":"text","text":"hello"}]}`},
		{"input_required", "tools/call", `{"resultType":"input_required","inputRequests":{"a":{"method":"elicitation/create","params":{}}},"requestState":"6f9619ff-8b86-d011-b42d-00c04fc964ff"}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := pipeline.NewResult([]byte(`7`), []byte(bc.result))
			var out *pipeline.Message
			deliver := s.tagProcess(context.Background(), sp, bc.method, func(m *pipeline.Message, _ int) { out = m })
			b.ReportAllocs()
			for b.Loop() {
				deliver(m, 200)
			}
			if out == nil {
				b.Fatal("nothing delivered")
			}
		})
	}
}
