package pipeline

import (
	"errors"
	"strings"
	"testing"
)

// TestStandIn: a server answer refused for ambiguous members becomes an
// error answer to the same id; a server request or notification, a
// message without an id, and other parse errors give none.
func TestStandIn(t *testing.T) {
	for _, tt := range []struct {
		name, raw string
		wantID    string // "" for no stand-in
	}{
		{"result", `{"jsonrpc":"2.0","id":7,"result":{"content":[],"Content":[]}}`, "7"},
		{"string id", `{"jsonrpc":"2.0","id":"a-1","result":{"isError":false,"IsError":true}}`, `"a-1"`},
		{"error", `{"jsonrpc":"2.0","id":3,"error":{"code":1,"message":"x","Message":"y"}}`, "3"},
		{"server request", `{"jsonrpc":"2.0","id":4,"method":"sampling/createMessage","params":{"a":1,"A":2}}`, ""},
		{"notification", `{"jsonrpc":"2.0","method":"notifications/message","params":{"a":1,"A":2}}`, ""},
		{"null id", `{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"x","Message":"y"}}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.raw))
			if !errors.Is(err, ErrAmbiguous) {
				t.Fatalf("Parse: %v, want ErrAmbiguous", err)
			}
			m := StandIn([]byte(tt.raw), err)
			switch {
			case tt.wantID == "" && m != nil:
				t.Errorf("a stand-in %s, want none", m.Raw)
			case tt.wantID != "" && (m == nil || string(m.ID) != tt.wantID || m.Error == nil ||
				!strings.Contains(string(m.Raw), "parsers would read it differently")):
				t.Errorf("stand-in %v, want an error answer to id %s", m, tt.wantID)
			}
		})
	}
	if m := StandIn([]byte(`{"jsonrpc":"2.0","id":1,"result":`), errors.New("truncated")); m != nil {
		t.Errorf("a stand-in for a message that is not ambiguous: %s", m.Raw)
	}
}
