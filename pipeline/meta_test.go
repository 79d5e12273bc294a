package pipeline_test

import (
	"encoding/json"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// withParams builds a message directly, so malformed params can be tested.
func withParams(params string) *pipeline.Message {
	m := &pipeline.Message{Kind: pipeline.KindRequest, ID: json.RawMessage(`1`), Method: "x"}
	if params != "" {
		m.Params = json.RawMessage(params)
	}
	return m
}

func mustParse(t *testing.T, s string) *pipeline.Message {
	t.Helper()
	m, err := pipeline.Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return m
}

// rawTests runs a table of params → expected raw value ("" means nil).
func rawTests(t *testing.T, get func(*pipeline.Message) json.RawMessage, tests []struct{ name, params, want string }) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := get(withParams(tt.params))
			if tt.want == "" {
				if got != nil {
					t.Errorf("got %q, want nil", got)
				}
				return
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProgressToken(t *testing.T) {
	rawTests(t, (*pipeline.Message).ProgressToken, []struct{ name, params, want string }{
		{"number token", `{"name":"slow","_meta":{"progressToken":17}}`, `17`},
		{"string token", `{"_meta":{"progressToken":"tok-1"},"name":"slow"}`, `"tok-1"`},
		{"string token that looks like a number", `{"_meta":{"progressToken":"17"}}`, `"17"`},
		{"token with other meta keys", `{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","progressToken":3}}`, `3`},
		{"no params", ``, ``},
		{"null params", `null`, ``},
		{"empty params", `{}`, ``},
		{"meta without token", `{"_meta":{"other":1}}`, ``},
		{"token outside meta", `{"progressToken":5}`, ``},
		{"token in arguments", `{"name":"t","arguments":{"progressToken":5}}`, ``},
		{"token only mentioned in a string", `{"arguments":{"text":"\"progressToken\""}}`, ``},
		{"malformed params", `{"_meta":{"progressToken":`, ``},
		{"meta not an object", `{"_meta":"progressToken"}`, ``},
		{"params not an object", `["progressToken"]`, ``},
	})
}

func TestProgressTokenParsed(t *testing.T) {
	m := mustParse(t, `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"a","arguments":{},"_meta":{"progressToken":"p-9"}}}`)
	if got := m.ProgressToken(); string(got) != `"p-9"` {
		t.Errorf("ProgressToken = %q", got)
	}
	n := mustParse(t, `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"a"}}`)
	if got := n.ProgressToken(); got != nil {
		t.Errorf("ProgressToken = %q, want nil", got)
	}
}

func TestNotificationProgressToken(t *testing.T) {
	rawTests(t, (*pipeline.Message).NotificationProgressToken, []struct{ name, params, want string }{
		{"number token", `{"progressToken":17,"progress":1,"total":10}`, `17`},
		{"string token", `{"progress":1,"progressToken":"tok-1"}`, `"tok-1"`},
		{"absent", `{"progress":1}`, ``},
		{"no params", ``, ``},
		{"token only in meta", `{"_meta":{"progressToken":1}}`, ``},
		{"malformed params", `{"progressToken":"tok`, ``},
		{"params not an object", `17`, ``},
	})
	m := mustParse(t, `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"abc","progress":50,"total":100,"message":"half"}}`)
	if got := m.NotificationProgressToken(); string(got) != `"abc"` {
		t.Errorf("parsed NotificationProgressToken = %q", got)
	}
}

func TestCancelledRequestID(t *testing.T) {
	rawTests(t, (*pipeline.Message).CancelledRequestID, []struct{ name, params, want string }{
		{"number id", `{"requestId":4,"reason":"user"}`, `4`},
		{"string id", `{"reason":"user","requestId":"4"}`, `"4"`},
		{"absent", `{"reason":"user"}`, ``},
		{"no params", ``, ``},
		{"malformed params", `{"requestId":`, ``},
		{"params not an object", `"requestId"`, ``},
	})
	m := mustParse(t, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"r-1","reason":"timeout"}}`)
	if got := m.CancelledRequestID(); string(got) != `"r-1"` {
		t.Errorf("parsed CancelledRequestID = %q", got)
	}
}

func TestMetaProtocolVersion(t *testing.T) {
	tests := []struct{ name, params, want string }{
		{"present", `{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"x"}`, "2026-07-28"},
		{"present with token", `{"_meta":{"progressToken":1,"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}`, "2026-07-28"},
		{"no params", ``, ""},
		{"no meta", `{"name":"x"}`, ""},
		{"meta without key", `{"_meta":{"progressToken":1}}`, ""},
		{"key outside meta", `{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}`, ""},
		{"key in arguments meta", `{"arguments":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, ""},
		{"value not a string", `{"_meta":{"io.modelcontextprotocol/protocolVersion":20260728}}`, ""},
		{"value null", `{"_meta":{"io.modelcontextprotocol/protocolVersion":null}}`, ""},
		{"malformed params", `{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-`, ""},
		{"meta not an object", `{"_meta":["io.modelcontextprotocol/protocolVersion"]}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := withParams(tt.params).MetaProtocolVersion(); got != tt.want {
				t.Errorf("MetaProtocolVersion = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestResultProtocolVersion(t *testing.T) {
	tests := []struct{ name, result, want string }{
		{"initialize result", `{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"s","version":"1"}}`, "2025-06-18"},
		{"older revision", `{"capabilities":{},"protocolVersion":"2024-11-05"}`, "2024-11-05"},
		{"absent", `{"capabilities":{}}`, ""},
		{"nil result", ``, ""},
		{"null result", `null`, ""},
		{"not a string", `{"protocolVersion":2025}`, ""},
		{"not an object", `"2025-06-18"`, ""},
		{"malformed", `{"protocolVersion":"2025`, ""},
		{"nested only", `{"serverInfo":{"protocolVersion":"2025-06-18"}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &pipeline.Message{Kind: pipeline.KindResponse, ID: json.RawMessage(`1`)}
			if tt.result != "" {
				m.Result = json.RawMessage(tt.result)
			}
			if got := m.ResultProtocolVersion(); got != tt.want {
				t.Errorf("ResultProtocolVersion = %q, want %q", got, tt.want)
			}
			if got := m.ParamsProtocolVersion(); got != "" {
				t.Errorf("ParamsProtocolVersion of a response = %q, want \"\"", got)
			}
		})
	}
	m := mustParse(t, `{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-03-26","capabilities":{}}}`)
	if got := m.ResultProtocolVersion(); got != "2025-03-26" {
		t.Errorf("parsed ResultProtocolVersion = %q", got)
	}
}

func TestParamsProtocolVersion(t *testing.T) {
	tests := []struct{ name, params, want string }{
		{"initialize params", `{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`, "2025-06-18"},
		{"absent", `{"capabilities":{}}`, ""},
		{"no params", ``, ""},
		{"not a string", `{"protocolVersion":true}`, ""},
		{"not an object", `[]`, ""},
		{"malformed", `{"protocolVersion":`, ""},
		{"only in meta", `{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := withParams(tt.params)
			if got := m.ParamsProtocolVersion(); got != tt.want {
				t.Errorf("ParamsProtocolVersion = %q, want %q", got, tt.want)
			}
			if got := m.ResultProtocolVersion(); got != "" {
				t.Errorf("ResultProtocolVersion of a request = %q, want \"\"", got)
			}
		})
	}
	m := mustParse(t, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`)
	if got := m.ParamsProtocolVersion(); got != "2025-03-26" {
		t.Errorf("parsed ParamsProtocolVersion = %q", got)
	}
}
