package mcpmatcher

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

const callEcho = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}`

// mcpRequest builds a POST as Caddy hands it to a matcher: with a replacer
// and the access log's extra fields in its context.
func mcpRequest(method, contentType, body string, header ...string) (*http.Request, *caddy.Replacer) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, "http://localhost/mcp", rd)
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	repl := caddy.NewReplacer()
	ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl)
	ctx = context.WithValue(ctx, caddyhttp.ExtraLogFieldsCtxKey, new(caddyhttp.ExtraLogFields))
	return r.WithContext(ctx), repl
}

// TestMatchMCPAmbiguousMembers: a message whose tool a server would read
// otherwise than the matcher ends the route with 400: matching it could let
// it by a "not" rule, not matching it by a positive one.
func TestMatchMCPAmbiguousMembers(t *testing.T) {
	m := MatchMCP{Tool: []string{"danger"}}
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"safe","Name":"danger"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"NAME":"danger"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"safe","nam\u0045":"danger"}}`,
		`{"jsonrpc":"2.0","id":1,"METHOD":"tools/call","params":{"name":"danger"}}`,
	} {
		r, _ := mcpRequest("POST", "application/json", body)
		got, err := m.MatchWithError(r)
		var he caddyhttp.HandlerError
		if got || !errors.As(err, &he) || he.StatusCode != http.StatusBadRequest || !errors.Is(err, pipeline.ErrAmbiguous) {
			t.Errorf("%s: MatchWithError = %v, %v; want false and a 400 HandlerError", body, got, err)
		}
		if rest, _ := io.ReadAll(r.Body); string(rest) != body {
			t.Errorf("restored body = %q, want %q", rest, body)
		}
	}
}

func TestMatchMCP(t *testing.T) {
	big := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"pad":"` +
		strings.Repeat("x", 200) + `"}}}`
	tests := []struct {
		name        string
		matcher     MatchMCP
		httpMethod  string
		contentType string
		body        string
		want        bool
	}{
		{"any message", MatchMCP{}, "POST", "application/json", callEcho, true},
		{"method", MatchMCP{Method: []string{"tools/call"}}, "POST", "application/json", callEcho, true},
		{"method glob", MatchMCP{Method: []string{"tools/*"}}, "POST", "application/json", callEcho, true},
		{"other method", MatchMCP{Method: []string{"tools/list", "prompts/*"}}, "POST", "application/json", callEcho, false},
		{"tool", MatchMCP{Tool: []string{"echo"}}, "POST", "application/json", callEcho, true},
		{"tool glob", MatchMCP{Tool: []string{"search_*", "e*o"}}, "POST", "application/json", callEcho, true},
		{"other tool", MatchMCP{Tool: []string{"echo_*"}}, "POST", "application/json", callEcho, false},
		{"method and tool", MatchMCP{Method: []string{"tools/call"}, Tool: []string{"echo"}}, "POST", "application/json", callEcho, true},
		{"tool of another method", MatchMCP{Method: []string{"prompts/get"}, Tool: []string{"echo"}}, "POST", "application/json", callEcho, false},
		{"resource uri", MatchMCP{Tool: []string{"file:///*"}}, "POST", "application/json",
			`{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"file:///etc/motd"}}`, true},
		{"message naming nothing", MatchMCP{Tool: []string{"*"}}, "POST", "application/json",
			`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, false},
		{"batch with a match after the first", MatchMCP{Tool: []string{"echo"}}, "POST", "application/json",
			`[{"jsonrpc":"2.0","id":1,"method":"tools/list"},` + callEcho + `]`, true},
		{"content type with charset", MatchMCP{}, "POST", "application/json; charset=utf-8", callEcho, true},
		{"GET", MatchMCP{}, "GET", "application/json", "", false},
		{"not JSON content", MatchMCP{}, "POST", "text/plain", callEcho, false},
		{"no body", MatchMCP{}, "POST", "application/json", "", false},
		{"not JSON", MatchMCP{}, "POST", "application/json", `{"jsonrpc":`, false},
		{"JSON but not JSON-RPC", MatchMCP{}, "POST", "application/json", `{"hello":"world"}`, false},
		{"bad batch element", MatchMCP{}, "POST", "application/json", `[` + callEcho + `,{"x":1}]`, false},
		{"too big", MatchMCP{MaxSize: 100}, "POST", "application/json", big, false},
		{"just fits", MatchMCP{MaxSize: int64(len(big))}, "POST", "application/json", big, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := mcpRequest(tt.httpMethod, tt.contentType, tt.body)
			got, err := tt.matcher.MatchWithError(r)
			if err != nil {
				t.Fatalf("MatchWithError: %v (a matcher error would abort the route)", err)
			}
			if got != tt.want {
				t.Errorf("MatchWithError = %v, want %v", got, tt.want)
			}
			// Whatever the verdict, the handlers after it read the body unchanged.
			if r.Body != nil {
				rest, err := io.ReadAll(r.Body)
				if err != nil {
					t.Fatalf("reading the restored body: %v", err)
				}
				if string(rest) != tt.body {
					t.Errorf("restored body = %q, want %q", rest, tt.body)
				}
			}
		})
	}
}

func TestMatchMCPPlaceholders(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		header []string
		want   map[string]string
	}{
		{"call", callEcho, []string{"Mcp-Session-Id", "s-1", "Mcp-Protocol-Version", "2025-06-18"}, map[string]string{
			"method": "tools/call", "tool": "echo", "session_id": "s-1", "protocol_version": "2025-06-18",
			"request_id": "7", "batch_size": ""}},
		{"string id", `{"jsonrpc":"2.0","id":"7","method":"prompts/get","params":{"name":"greet"}}`, nil, map[string]string{
			"method": "prompts/get", "tool": "greet", "request_id": `"7"`, "session_id": ""}},
		{"initialize", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`,
			nil, map[string]string{"method": "initialize", "protocol_version": "2025-03-26", "request_id": "0", "tool": ""}},
		{"notification", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, nil, map[string]string{
			"method": "notifications/initialized", "request_id": ""}},
		{"batch names its first request", `[{"jsonrpc":"2.0","method":"notifications/initialized"},` + callEcho + `,{"jsonrpc":"2.0","id":8,"method":"tools/list"}]`,
			nil, map[string]string{"method": "tools/call", "tool": "echo", "request_id": "7", "batch_size": "3"}},
		{"stateless revision from _meta", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`,
			nil, map[string]string{"protocol_version": "2026-07-28"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, repl := mcpRequest("POST", "application/json", tt.body, tt.header...)
			if _, err := (MatchMCP{Method: []string{"no/such/method"}}).MatchWithError(r); err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.want {
				if got := repl.ReplaceAll("{http.mcp."+k+"}", ""); got != want {
					t.Errorf("{http.mcp.%s} = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestMatchMCPSSE2024SessionPlaceholder(t *testing.T) {
	r, repl := mcpRequest("POST", "application/json", callEcho)
	r.URL.RawQuery = "sessionId=legacy-1"
	if ok, err := (MatchMCP{}).MatchWithError(r); !ok || err != nil {
		t.Fatalf("MatchWithError = %v, %v", ok, err)
	}
	if got := repl.ReplaceAll("{http.mcp.session_id}", ""); got != "legacy-1" {
		t.Errorf("{http.mcp.session_id} = %q, want legacy-1", got)
	}
}

// errAfter yields its bytes, then fails: a client that drops mid-body.
type errAfter struct{ r io.Reader }

var errDropped = errors.New("client went away")

func (e *errAfter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, errDropped
	}
	return n, err
}

func TestMatchMCPBrokenBodyKeepsItsError(t *testing.T) {
	r, _ := mcpRequest("POST", "application/json", "")
	r.Body = io.NopCloser(&errAfter{strings.NewReader(`{"jsonrpc":"2.0",`)})
	if ok, err := (MatchMCP{}).MatchWithError(r); ok || err != nil {
		t.Fatalf("MatchWithError = %v, %v; want no match and no error", ok, err)
	}
	got, err := io.ReadAll(r.Body)
	if !errors.Is(err, errDropped) || string(got) != `{"jsonrpc":"2.0",` {
		t.Errorf("the handler after the matcher read %q, %v; want the bytes sent and the read error", got, err)
	}
}

func TestMatchMCPTooBigKeepsTheWholeBody(t *testing.T) {
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"pad":"` +
		strings.Repeat("y", 1<<16) + `"}}}`
	r, repl := mcpRequest("POST", "application/json", body)
	if ok, err := (MatchMCP{MaxSize: 1024}).MatchWithError(r); ok || err != nil {
		t.Fatalf("MatchWithError = %v, %v; want no match and no error", ok, err)
	}
	got, err := io.ReadAll(r.Body)
	if err != nil || string(got) != body {
		t.Errorf("the handler after the matcher read %d bytes (%v), want all %d", len(got), err, len(body))
	}
	if v, ok := repl.Get(mcphttp.PlaceholderMethod); ok {
		t.Errorf("a body the matcher did not read set {http.mcp.method} = %v", v)
	}
}

func TestMatchMCPCaddyfile(t *testing.T) {
	tests := []struct {
		name, input string
		want        MatchMCP
		wantErr     string
	}{
		{"empty", "mcp", MatchMCP{}, ""},
		{"full", "mcp {\n method tools/call prompts/get\n tool search_* render_*\n tool echo\n max_size 1MiB\n}",
			MatchMCP{Method: []string{"tools/call", "prompts/get"}, Tool: []string{"search_*", "render_*", "echo"}, MaxSize: 1 << 20}, ""},
		{"argument", "mcp tools/call", MatchMCP{}, "unexpected argument"},
		{"unknown", "mcp {\n name x\n}", MatchMCP{}, `unrecognized mcp matcher subdirective "name"`},
		{"method without globs", "mcp {\n method\n}", MatchMCP{}, "method needs at least one glob"},
		{"bad size", "mcp {\n max_size lots\n}", MatchMCP{}, `invalid size "lots"`},
		{"zero size", "mcp {\n max_size 0\n}", MatchMCP{}, `invalid size "0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m MatchMCP
			err := m.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalMatchers(m, tt.want) {
				t.Errorf("got %+v, want %+v", m, tt.want)
			}
		})
	}
}

func TestMatchMCPFromCELMap(t *testing.T) {
	tests := []struct {
		name    string
		fields  map[string][]string
		want    MatchMCP
		wantErr string
	}{
		{"full", map[string][]string{"method": {"tools/call"}, "tool": {"a*", "b"}, "max_size": {"2KiB"}},
			MatchMCP{Method: []string{"tools/call"}, Tool: []string{"a*", "b"}, MaxSize: 2048}, ""},
		{"unknown key", map[string][]string{"tools": {"a"}}, MatchMCP{}, `unknown key "tools"`},
		{"two sizes", map[string][]string{"max_size": {"1KB", "2KB"}}, MatchMCP{}, "one size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := matcherFromMap(tt.fields)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalMatchers(m, tt.want) {
				t.Errorf("got %+v, want %+v", m, tt.want)
			}
		})
	}
}

func equalMatchers(a, b MatchMCP) bool {
	return strings.Join(a.Method, "\x00") == strings.Join(b.Method, "\x00") &&
		strings.Join(a.Tool, "\x00") == strings.Join(b.Tool, "\x00") && a.MaxSize == b.MaxSize
}
