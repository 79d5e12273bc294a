package pipeline_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// reparse checks that m.Raw parses back into the same envelope as m.
func reparse(t *testing.T, m *pipeline.Message) *pipeline.Message {
	t.Helper()
	if !json.Valid(m.Raw) {
		t.Fatalf("built message is not valid JSON: %s", m.Raw)
	}
	p, err := pipeline.Parse(m.Raw)
	if err != nil {
		t.Fatalf("Parse(%s): %v", m.Raw, err)
	}
	if !bytes.Equal(p.Raw, m.Raw) {
		t.Errorf("Raw changed on reparse: %s vs %s", p.Raw, m.Raw)
	}
	if p.Kind != m.Kind {
		t.Errorf("Kind = %v, reparsed %v", m.Kind, p.Kind)
	}
	for _, f := range []struct {
		name      string
		got, want []byte
	}{
		{"ID", m.ID, p.ID},
		{"Params", m.Params, p.Params},
		{"Result", m.Result, p.Result},
		{"Error", m.Error, p.Error},
	} {
		if !bytes.Equal(f.got, f.want) || (f.got == nil) != (f.want == nil) {
			t.Errorf("%s = %q, reparsed %q", f.name, f.got, f.want)
		}
	}
	if p.Method != m.Method {
		t.Errorf("Method = %q, reparsed %q", m.Method, p.Method)
	}
	return p
}

func TestNewError(t *testing.T) {
	tests := []struct {
		name    string
		id      json.RawMessage
		code    int
		message string
		wantID  string
	}{
		{"number id", json.RawMessage(`42`), pipeline.CodeMethodNotFound, "Method not found", `42`},
		{"string id", json.RawMessage(`"42"`), pipeline.CodeInvalidParams, "Invalid params", `"42"`},
		{"nil id", nil, pipeline.CodeParseError, "Parse error", `null`},
		{"empty id", json.RawMessage{}, pipeline.CodeInvalidRequest, "Invalid request", `null`},
		{"explicit null id", json.RawMessage(`null`), pipeline.CodeInternalError, "boom", `null`},
		{"timeout", json.RawMessage(`7`), pipeline.CodeRequestTimeout, "Request timed out", `7`},
		{"closed", json.RawMessage(`"a"`), pipeline.CodeConnectionClosed, "Connection closed", `"a"`},
		{"message needing escapes", json.RawMessage(`1`), 1, "quote \" backslash \\ <tag> & \n\t\x01 ünï 😀", `1`},
		{"empty message", json.RawMessage(`1`), 0, "", `1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := pipeline.NewError(tt.id, tt.code, tt.message)
			if m.Kind != pipeline.KindResponse || !m.IsResponse() {
				t.Errorf("Kind = %v, want response", m.Kind)
			}
			if string(m.ID) != tt.wantID {
				t.Errorf("ID = %q, want %q", m.ID, tt.wantID)
			}
			if m.Result != nil {
				t.Errorf("Result = %q, want nil", m.Result)
			}
			p := reparse(t, m)
			if string(p.ID) != tt.wantID {
				t.Errorf("reparsed ID = %q, want %q", p.ID, tt.wantID)
			}
			var obj pipeline.ErrorObject
			if err := json.Unmarshal(p.Error, &obj); err != nil {
				t.Fatalf("error object: %v", err)
			}
			if obj.Code != tt.code || obj.Message != tt.message || obj.Data != nil {
				t.Errorf("error object = %+v, want code %d message %q", obj, tt.code, tt.message)
			}
			var wire map[string]json.RawMessage
			if err := json.Unmarshal(m.Raw, &wire); err != nil {
				t.Fatal(err)
			}
			if string(wire["id"]) != tt.wantID || string(wire["jsonrpc"]) != `"2.0"` {
				t.Errorf("wire = %s", m.Raw)
			}
		})
	}
}

func TestNewErrorNilIDWire(t *testing.T) {
	m := pipeline.NewError(nil, pipeline.CodeParseError, "Parse error")
	const want = `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`
	if string(m.Raw) != want {
		t.Errorf("Raw = %s, want %s", m.Raw, want)
	}
}

func TestNewResult(t *testing.T) {
	tests := []struct {
		name       string
		id, result json.RawMessage
		wantID     string
		wantResult string
	}{
		{"number id", json.RawMessage(`1`), json.RawMessage(`{"tools":[]}`), `1`, `{"tools":[]}`},
		{"string id", json.RawMessage(`"1"`), json.RawMessage(`{}`), `"1"`, `{}`},
		{"nested result", json.RawMessage(`"req-9"`), json.RawMessage(`{"content":[{"type":"text","text":"a\"b"}],"isError":false}`), `"req-9"`, `{"content":[{"type":"text","text":"a\"b"}],"isError":false}`},
		{"null result", json.RawMessage(`3`), json.RawMessage(`null`), `3`, `null`},
		{"nil result is an empty object", json.RawMessage(`4`), nil, `4`, `{}`},
		{"nil id is null", nil, json.RawMessage(`{}`), `null`, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := pipeline.NewResult(tt.id, tt.result)
			if m.Kind != pipeline.KindResponse {
				t.Errorf("Kind = %v", m.Kind)
			}
			if string(m.ID) != tt.wantID {
				t.Errorf("ID = %q, want %q", m.ID, tt.wantID)
			}
			if string(m.Result) != tt.wantResult {
				t.Errorf("Result = %q, want %q", m.Result, tt.wantResult)
			}
			if m.Error != nil {
				t.Errorf("Error = %q, want nil", m.Error)
			}
			p := reparse(t, m)
			if string(p.ID) != tt.wantID || string(p.Result) != tt.wantResult {
				t.Errorf("reparsed id %q result %q", p.ID, p.Result)
			}
		})
	}
}

func TestNewNotification(t *testing.T) {
	tests := []struct {
		name   string
		method string
		params json.RawMessage
	}{
		{"with params", "notifications/progress", json.RawMessage(`{"progressToken":1,"progress":0.5}`)},
		{"without params", "notifications/initialized", nil},
		{"empty params object", "notifications/tools/list_changed", json.RawMessage(`{}`)},
		{"method with quote and backslash", `odd"method\name`, nil},
		{"method with unicode", "notifications/ünïcode/😀", nil},
		{"method with control characters", "a\x01\x7f\vb\n", nil},
		{"method with html characters", "<a&b>", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := pipeline.NewNotification(tt.method, tt.params)
			if m.Kind != pipeline.KindNotification || m.ID != nil {
				t.Errorf("Kind = %v ID = %q", m.Kind, m.ID)
			}
			if m.Method != tt.method {
				t.Errorf("Method = %q, want %q", m.Method, tt.method)
			}
			if !bytes.Equal(m.Params, tt.params) || (m.Params == nil) != (tt.params == nil) {
				t.Errorf("Params = %q, want %q", m.Params, tt.params)
			}
			p := reparse(t, m)
			if p.Method != tt.method {
				t.Errorf("reparsed Method = %q, want %q", p.Method, tt.method)
			}
			if tt.params == nil && bytes.Contains(m.Raw, []byte(`"params"`)) {
				t.Errorf("nil params written: %s", m.Raw)
			}
		})
	}
}

func TestCancelledNotification(t *testing.T) {
	tests := []struct {
		name   string
		id     json.RawMessage
		reason string
		wantID string
	}{
		{"number id with reason", json.RawMessage(`12`), "client went away", `12`},
		{"string id with reason", json.RawMessage(`"12"`), "timeout", `"12"`},
		{"number id without reason", json.RawMessage(`0`), "", `0`},
		{"reason needing escapes", json.RawMessage(`"x"`), "a \"quoted\" <reason>\n", `"x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := pipeline.CancelledNotification(tt.id, tt.reason)
			if m.Method != "notifications/cancelled" || m.Kind != pipeline.KindNotification {
				t.Errorf("Method = %q Kind = %v", m.Method, m.Kind)
			}
			p := reparse(t, m)
			if got := p.CancelledRequestID(); string(got) != tt.wantID {
				t.Errorf("CancelledRequestID = %q, want %q", got, tt.wantID)
			}
			var params map[string]json.RawMessage
			if err := json.Unmarshal(p.Params, &params); err != nil {
				t.Fatal(err)
			}
			raw, has := params["reason"]
			if tt.reason == "" {
				if has {
					t.Errorf("empty reason written: %s", p.Params)
				}
				return
			}
			var reason string
			if err := json.Unmarshal(raw, &reason); err != nil || reason != tt.reason {
				t.Errorf("reason = %q (%v), want %q", reason, err, tt.reason)
			}
		})
	}
}

// A response built for a parsed request carries the id byte for byte.
func TestBuildForParsedRequest(t *testing.T) {
	for _, id := range []string{`1`, `"1"`, `1.50`, `"a\"b"`, `"<&>"`, `"\u00e9"`, `"é"`} {
		req, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":` + id + `,"method":"ping"}`))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []*pipeline.Message{
			pipeline.NewResult(req.ID, json.RawMessage(`{}`)),
			pipeline.NewError(req.ID, pipeline.CodeInternalError, "x"),
		} {
			p := reparse(t, m)
			if p.IDKey() != req.IDKey() {
				t.Errorf("response IDKey %q, request %q", p.IDKey(), req.IDKey())
			}
		}
		c := reparse(t, pipeline.CancelledNotification(req.ID, ""))
		if string(c.CancelledRequestID()) != id {
			t.Errorf("cancelled id %q, want %q", c.CancelledRequestID(), id)
		}
	}
}
