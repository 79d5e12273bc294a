package pipeline_test

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

func TestNewErrorWithData(t *testing.T) {
	t.Parallel()
	d := pipeline.NewErrorData()
	if !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(d.CorrelationID) {
		t.Fatalf("correlation id %q is not 12 hex bytes", d.CorrelationID)
	}
	if other := pipeline.NewCorrelationID(); other == d.CorrelationID {
		t.Fatalf("two correlation ids are equal: %s", other)
	}
	for _, tc := range []struct {
		name string
		id   json.RawMessage
		data any
		want string
	}{
		{"struct", json.RawMessage(`7`), d, `{"jsonrpc":"2.0","id":7,"error":{"code":-32603,"message":"m","data":{"correlation_id":"` + d.CorrelationID + `"}}}`},
		{"raw", nil, json.RawMessage(`{"a":1}`), `{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"m","data":{"a":1}}}`},
		{"none", json.RawMessage(`"x"`), nil, `{"jsonrpc":"2.0","id":"x","error":{"code":-32603,"message":"m"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := pipeline.NewErrorWithData(tc.id, pipeline.CodeInternalError, "m", tc.data)
			if string(m.Raw) != tc.want {
				t.Errorf("got  %s\nwant %s", m.Raw, tc.want)
			}
			if _, err := pipeline.Parse(m.Raw); err != nil {
				t.Errorf("the message does not parse: %v", err)
			}
		})
	}
}
