package pipeline_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// wantMsg is the decoded envelope a test expects; empty fields must be nil.
type wantMsg struct {
	kind   pipeline.Kind
	id     string
	method string
	params string
	result string
	errObj string
}

func checkMsg(t *testing.T, m *pipeline.Message, w wantMsg) {
	t.Helper()
	if m.Kind != w.kind {
		t.Errorf("Kind = %v, want %v", m.Kind, w.kind)
	}
	checkRaw(t, "ID", m.ID, w.id)
	if m.Method != w.method {
		t.Errorf("Method = %q, want %q", m.Method, w.method)
	}
	checkRaw(t, "Params", m.Params, w.params)
	checkRaw(t, "Result", m.Result, w.result)
	checkRaw(t, "Error", m.Error, w.errObj)
	if m.IDKey() != w.id {
		t.Errorf("IDKey() = %q, want %q", m.IDKey(), w.id)
	}
	if got, want := m.IsRequest(), w.kind == pipeline.KindRequest; got != want {
		t.Errorf("IsRequest() = %v, want %v", got, want)
	}
	if got, want := m.IsNotification(), w.kind == pipeline.KindNotification; got != want {
		t.Errorf("IsNotification() = %v, want %v", got, want)
	}
	if got, want := m.IsResponse(), w.kind == pipeline.KindResponse; got != want {
		t.Errorf("IsResponse() = %v, want %v", got, want)
	}
}

// checkRaw compares a raw JSON field byte for byte; want "" means absent (nil).
func checkRaw(t *testing.T, name string, got []byte, want string) {
	t.Helper()
	if want == "" {
		if got != nil {
			t.Errorf("%s = %q, want nil", name, got)
		}
		return
	}
	if string(got) != want {
		t.Errorf("%s = %q, want %q", name, got, want)
	}
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want wantMsg
	}{
		{
			name: "request number id",
			in:   `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}`,
			want: wantMsg{kind: pipeline.KindRequest, id: `1`, method: "tools/call", params: `{"name":"echo","arguments":{"text":"hi"}}`},
		},
		{
			name: "request string id",
			in:   `{"jsonrpc":"2.0","id":"abc-123","method":"tools/list"}`,
			want: wantMsg{kind: pipeline.KindRequest, id: `"abc-123"`, method: "tools/list"},
		},
		{
			name: "request string id that looks like a number",
			in:   `{"jsonrpc":"2.0","id":"1","method":"ping"}`,
			want: wantMsg{kind: pipeline.KindRequest, id: `"1"`, method: "ping"},
		},
		{
			name: "request negative id",
			in:   `{"jsonrpc":"2.0","id":-7,"method":"ping"}`,
			want: wantMsg{kind: pipeline.KindRequest, id: `-7`, method: "ping"},
		},
		{
			name: "request exponent id kept verbatim",
			in:   `{"jsonrpc":"2.0","id":1e3,"method":"ping"}`,
			want: wantMsg{kind: pipeline.KindRequest, id: `1e3`, method: "ping"},
		},
		{
			name: "request zero id",
			in:   `{"jsonrpc":"2.0","id":0,"method":"ping"}`,
			want: wantMsg{kind: pipeline.KindRequest, id: `0`, method: "ping"},
		},
		{
			name: "request empty string id",
			in:   `{"jsonrpc":"2.0","id":"","method":"ping"}`,
			want: wantMsg{kind: pipeline.KindRequest, id: `""`, method: "ping"},
		},
		{
			name: "request keys in unusual order",
			in:   `{"params":{},"method":"initialize","id":7,"jsonrpc":"2.0"}`,
			want: wantMsg{kind: pipeline.KindRequest, id: `7`, method: "initialize", params: `{}`},
		},
		{
			name: "request with inner whitespace",
			in:   "{ \"jsonrpc\" : \"2.0\" ,\n \"id\" : 3 ,\t\"method\" : \"ping\" }",
			want: wantMsg{kind: pipeline.KindRequest, id: `3`, method: "ping"},
		},
		{
			name: "request with escaped key",
			in:   `{"jsonrpc":"2.0","id":1,"\u006dethod":"ping"}`,
			want: wantMsg{kind: pipeline.KindRequest, id: `1`, method: "ping"},
		},
		{
			name: "request with unknown members",
			in:   `{"jsonrpc":"2.0","id":1,"method":"ping","extra":{"Method":"x","ID":"y"}}`,
			want: wantMsg{kind: pipeline.KindRequest, id: `1`, method: "ping"},
		},
		{
			name: "request params with envelope names in another case inside",
			in:   `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"ID":1,"Method":"x"}}`,
			want: wantMsg{kind: pipeline.KindRequest, id: `1`, method: "tools/call", params: `{"ID":1,"Method":"x"}`},
		},
		{
			name: "strings that look like members",
			in:   `{"jsonrpc":"2.0","id":"\",\"Method\":\"x","method":"a\\","params":{"s":"}\"ID\":{,"},"extra":["a,\"id\":",{"id":2,"Method":3}],"other":null}`,
			want: wantMsg{kind: pipeline.KindRequest, id: `"\",\"Method\":\"x"`, method: `a\`, params: `{"s":"}\"ID\":{,"}`},
		},
		{
			name: "notification with params",
			in:   `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t","progress":1}}`,
			want: wantMsg{kind: pipeline.KindNotification, method: "notifications/progress", params: `{"progressToken":"t","progress":1}`},
		},
		{
			name: "notification without params",
			in:   `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
			want: wantMsg{kind: pipeline.KindNotification, method: "notifications/initialized"},
		},
		{
			name: "response result number id",
			in:   `{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}`,
			want: wantMsg{kind: pipeline.KindResponse, id: `1`, result: `{"tools":[]}`},
		},
		{
			name: "response result string id",
			in:   `{"jsonrpc":"2.0","id":"x","result":{}}`,
			want: wantMsg{kind: pipeline.KindResponse, id: `"x"`, result: `{}`},
		},
		{
			name: "response null result",
			in:   `{"jsonrpc":"2.0","id":2,"result":null}`,
			want: wantMsg{kind: pipeline.KindResponse, id: `2`, result: `null`},
		},
		{
			name: "error response",
			in:   `{"jsonrpc":"2.0","id":5,"error":{"code":-32601,"message":"Method not found"}}`,
			want: wantMsg{kind: pipeline.KindResponse, id: `5`, errObj: `{"code":-32601,"message":"Method not found"}`},
		},
		{
			name: "error response with null id",
			in:   `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`,
			want: wantMsg{kind: pipeline.KindResponse, id: `null`, errObj: `{"code":-32700,"message":"Parse error"}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := pipeline.Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if string(m.Raw) != tt.in {
				t.Errorf("Raw = %q, want %q", m.Raw, tt.in)
			}
			checkMsg(t, m, tt.want)
		})
	}
}

func TestParseTrimsOuterWhitespaceOnly(t *testing.T) {
	const body = `{"jsonrpc":"2.0", "id":1, "method":"ping"}`
	for _, pad := range []struct{ pre, post string }{
		{"", ""},
		{" ", ""},
		{"", "\n"},
		{"\r\n\t ", " \t\r\n"},
	} {
		m, err := pipeline.Parse([]byte(pad.pre + body + pad.post))
		if err != nil {
			t.Fatalf("Parse(%q): %v", pad.pre+body+pad.post, err)
		}
		if string(m.Raw) != body {
			t.Errorf("Raw = %q, want %q", m.Raw, body)
		}
	}
}

func TestParseIDTypePreserved(t *testing.T) {
	ids := []string{`1`, `"1"`, `1.0`, `"01"`, `10`, `-1`}
	keys := map[string]string{}
	for _, id := range ids {
		m, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":` + id + `,"method":"ping"}`))
		if err != nil {
			t.Fatalf("Parse id %s: %v", id, err)
		}
		if string(m.ID) != id {
			t.Errorf("ID = %q, want %q", m.ID, id)
		}
		if prev, dup := keys[m.IDKey()]; dup {
			t.Errorf("ids %s and %s share IDKey %q", prev, id, m.IDKey())
		}
		keys[m.IDKey()] = id
	}
	// A request and its response agree on the key when the id is spelled the same.
	req, _ := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":"1","method":"ping"}`))
	resp, _ := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":"1","result":{}}`))
	num, _ := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":1,"result":{}}`))
	if req.IDKey() != resp.IDKey() {
		t.Errorf("request key %q != response key %q", req.IDKey(), resp.IDKey())
	}
	if req.IDKey() == num.IDKey() {
		t.Errorf("string id \"1\" and number id 1 share key %q", req.IDKey())
	}
}

func TestParseCopiesInput(t *testing.T) {
	const body = `{"jsonrpc":"2.0","id":"abc","method":"tools/call","params":{"name":"echo"}}`
	for _, pad := range []string{"", "  \n"} {
		in := []byte(pad + body + pad)
		m, err := pipeline.Parse(in)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		for i := range in {
			in[i] = 'X'
		}
		if string(m.Raw) != body {
			t.Errorf("Raw changed after input was overwritten: %q", m.Raw)
		}
		checkMsg(t, m, wantMsg{kind: pipeline.KindRequest, id: `"abc"`, method: "tools/call", params: `{"name":"echo"}`})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", ``, pipeline.ErrParse},
		{"whitespace only", " \n\t\r ", pipeline.ErrParse},
		{"not JSON", `hello`, pipeline.ErrParse},
		{"not JSON object-like", `{hello}`, pipeline.ErrParse},
		{"truncated", `{"jsonrpc":"2.0","id":1,"method":"pi`, pipeline.ErrParse},
		{"truncated after value", `{"jsonrpc":"2.0","id":1,"method":"ping"`, pipeline.ErrParse},
		{"trailing garbage", `{"jsonrpc":"2.0","id":1,"method":"ping"}x`, pipeline.ErrParse},
		{"two objects", `{"jsonrpc":"2.0","method":"a"}{"jsonrpc":"2.0","method":"b"}`, pipeline.ErrParse},
		{"trailing comma", `{"jsonrpc":"2.0","method":"a",}`, pipeline.ErrParse},
		{"single quotes", `{'jsonrpc':'2.0','method':'a'}`, pipeline.ErrParse},
		{"truncated array", `[{"jsonrpc":"2.0"`, pipeline.ErrParse},
		{"top-level array", `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, pipeline.ErrInvalid},
		{"top-level empty array", `[]`, pipeline.ErrInvalid},
		{"top-level number", `42`, pipeline.ErrInvalid},
		{"top-level string", `"ping"`, pipeline.ErrInvalid},
		{"top-level null", `null`, pipeline.ErrInvalid},
		{"top-level bool", `true`, pipeline.ErrInvalid},
		{"empty object", `{}`, pipeline.ErrInvalid},
		{"missing jsonrpc", `{"id":1,"method":"ping"}`, pipeline.ErrInvalid},
		{"jsonrpc 1.0", `{"jsonrpc":"1.0","id":1,"method":"ping"}`, pipeline.ErrInvalid},
		{"jsonrpc empty", `{"jsonrpc":"","id":1,"method":"ping"}`, pipeline.ErrInvalid},
		{"jsonrpc number", `{"jsonrpc":2.0,"id":1,"method":"ping"}`, pipeline.ErrInvalid},
		{"method not a string", `{"jsonrpc":"2.0","id":1,"method":1}`, pipeline.ErrInvalid},
		{"method and result", `{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}`, pipeline.ErrInvalid},
		{"method and null result", `{"jsonrpc":"2.0","id":1,"method":"ping","result":null}`, pipeline.ErrInvalid},
		{"method and error", `{"jsonrpc":"2.0","id":1,"method":"ping","error":{"code":1,"message":"x"}}`, pipeline.ErrInvalid},
		{"notification with result", `{"jsonrpc":"2.0","method":"n","result":{}}`, pipeline.ErrInvalid},
		{"result and error", `{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}`, pipeline.ErrInvalid},
		{"response without id", `{"jsonrpc":"2.0","result":{}}`, pipeline.ErrInvalid},
		{"error response without id", `{"jsonrpc":"2.0","error":{"code":1,"message":"x"}}`, pipeline.ErrInvalid},
		{"null request id", `{"jsonrpc":"2.0","id":null,"method":"ping"}`, pipeline.ErrInvalid},
		{"object id", `{"jsonrpc":"2.0","id":{"n":1},"method":"ping"}`, pipeline.ErrInvalid},
		{"empty object id", `{"jsonrpc":"2.0","id":{},"method":"ping"}`, pipeline.ErrInvalid},
		{"bool id", `{"jsonrpc":"2.0","id":true,"method":"ping"}`, pipeline.ErrInvalid},
		{"false id", `{"jsonrpc":"2.0","id":false,"result":{}}`, pipeline.ErrInvalid},
		{"array id", `{"jsonrpc":"2.0","id":[1],"method":"ping"}`, pipeline.ErrInvalid},
		{"object id on response", `{"jsonrpc":"2.0","id":{},"result":{}}`, pipeline.ErrInvalid},
		{"neither method nor result", `{"jsonrpc":"2.0","id":1}`, pipeline.ErrInvalid},
		{"neither, with params", `{"jsonrpc":"2.0","id":1,"params":{}}`, pipeline.ErrInvalid},
		{"empty method", `{"jsonrpc":"2.0","id":1,"method":""}`, pipeline.ErrInvalid},
		// encoding/json matches keys case-insensitively; a gateway must not
		// see a different message than a case-sensitive upstream does.
		{"case-variant method key", `{"jsonrpc":"2.0","id":1,"method":"tools/call","Method":"tools/list"}`, pipeline.ErrInvalid},
		{"case-variant only", `{"JSONRPC":"2.0","ID":1,"METHOD":"ping"}`, pipeline.ErrInvalid},
		{"case-variant id key", `{"jsonrpc":"2.0","id":1,"Id":2,"method":"ping"}`, pipeline.ErrInvalid},
		{"unicode-fold params key", `{"jsonrpc":"2.0","id":1,"method":"ping","param\u017f":{}}`, pipeline.ErrInvalid},
		{"unicode-fold raw params key", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"param\u017f\":{}}", pipeline.ErrInvalid},
		{"duplicate method key", `{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"tools/list"}`, pipeline.ErrInvalid},
		{"duplicate id key", `{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}`, pipeline.ErrInvalid},
		{"duplicate key via escape", `{"jsonrpc":"2.0","id":1,"method":"a","\u006dethod":"b"}`, pipeline.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := pipeline.Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse(%q) succeeded (kind %v, method %q), want error", tt.in, m.Kind, m.Method)
			}
			if m != nil {
				t.Errorf("Parse returned a message with error %v", err)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %q does not wrap %v", err, tt.want)
			}
			other := pipeline.ErrInvalid
			if tt.want == pipeline.ErrInvalid {
				other = pipeline.ErrParse
			}
			if errors.Is(err, other) {
				t.Errorf("error %q also wraps %v", err, other)
			}
			if !strings.HasPrefix(err.Error(), tt.want.Error()+": ") {
				t.Errorf("error %q does not explain itself after %q", err, tt.want)
			}
		})
	}
}

func TestParseNilInput(t *testing.T) {
	if _, err := pipeline.Parse(nil); !errors.Is(err, pipeline.ErrParse) {
		t.Errorf("Parse(nil) error = %v, want ErrParse", err)
	}
}

func TestKindString(t *testing.T) {
	tests := []struct {
		k    pipeline.Kind
		want string
	}{
		{pipeline.KindInvalid, "invalid"},
		{pipeline.KindRequest, "request"},
		{pipeline.KindNotification, "notification"},
		{pipeline.KindResponse, "response"},
		{pipeline.Kind(200), "invalid"},
	}
	for _, tt := range tests {
		if got := tt.k.String(); got != tt.want {
			t.Errorf("Kind(%d).String() = %q, want %q", tt.k, got, tt.want)
		}
	}
}

func TestParseRawIsIndependentPerCall(t *testing.T) {
	in := []byte(`{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	a, err := pipeline.Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pipeline.Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	a.Raw[0] = 'X'
	if !bytes.Equal(b.Raw, in) {
		t.Errorf("two parses of one buffer share Raw")
	}
}

// FuzzParse checks that Parse never panics and that whatever it accepts reads
// the same to a strict parser: a case-sensitive map of the top-level members.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}`,
		`{"jsonrpc":"2.0","id":"a","result":{}}`,
		`{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"x"}}`,
		`{"jsonrpc":"2.0","method":"n"}`,
		`{"jsonrpc":"2.0","id":1,"method":"a","Method":"b"}`,
		`{"jsonrpc":"2.0","id":"\\\"","\u006dethod":"a"}`,
		`[1]`, `"x"`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := pipeline.Parse(b)
		if err != nil {
			if !errors.Is(err, pipeline.ErrParse) && !errors.Is(err, pipeline.ErrInvalid) {
				t.Fatalf("error %v wraps neither ErrParse nor ErrInvalid", err)
			}
			return
		}
		var members map[string]json.RawMessage
		if err := json.Unmarshal(m.Raw, &members); err != nil {
			t.Fatalf("accepted %q, which a map cannot hold: %v", m.Raw, err)
		}
		var method string
		if raw, ok := members["method"]; ok {
			if err := json.Unmarshal(raw, &method); err != nil {
				t.Fatalf("method %s: %v", raw, err)
			}
		}
		if method != m.Method {
			t.Fatalf("Method = %q, strict parser sees %q in %q", m.Method, method, m.Raw)
		}
		for _, f := range []struct {
			key string
			got []byte
		}{{"id", m.ID}, {"params", m.Params}, {"result", m.Result}, {"error", m.Error}} {
			if want := members[f.key]; !bytes.Equal(f.got, want) {
				t.Fatalf("%s = %q, strict parser sees %q in %q", f.key, f.got, want, m.Raw)
			}
		}
	})
}

// TestParseFieldsDoNotSpillIntoRaw: the fields are views into Raw, capped so
// that appending to one copies instead of overwriting the message.
func TestParseFieldsDoNotSpillIntoRaw(t *testing.T) {
	const in = `{"jsonrpc":"2.0","id":7,"method":"m","params":{"a":1},"x":"tail"}`
	m, err := pipeline.Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	_ = append(m.Params, "XXXXXXXX"...)
	_ = append(m.ID, "YYYY"...)
	if string(m.Raw) != in {
		t.Fatalf("Raw changed to %s after appending to fields", m.Raw)
	}
}
