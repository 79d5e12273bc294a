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
