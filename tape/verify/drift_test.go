package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/tape"
)

// describedServer is a go-sdk server whose tools are greet, described as
// desc, and, when extra, wave.
func describedServer(t *testing.T, desc string, extra bool) string {
	t.Helper()
	srv := mcp.NewServer(&mcp.Implementation{Name: "described", Version: "1"}, nil)
	type in struct {
		Name string `json:"name"`
	}
	h := func(_ context.Context, _ *mcp.CallToolRequest, a in) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "hi " + a.Name}}}, nil, nil
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "greet", Description: desc}, h)
	if extra {
		mcp.AddTool(srv, &mcp.Tool{Name: "wave", Description: "Waves"}, h)
	}
	ts := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	t.Cleanup(ts.Close)
	return ts.URL
}

// recordSession makes a tape of an initialize and a tools/list answered
// by the server at url.
func recordSession(t *testing.T, url string) *tape.File {
	t.Helper()
	dir := t.TempDir()
	w := tape.NewWriter(tape.WriterOptions{Dir: dir})
	tp := tape.NewTape(tape.Header{Endpoint: "t", Session: "0123456789abcdef", Start: time.Now()})
	target := HTTP(url, nil)
	for _, m := range []string{clientSide[0], clientSide[1], `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}`} {
		w.Write(tp, tape.Record{Dir: tape.ClientToServer, Msg: json.RawMessage(m)})
		if err := target.Send(context.Background(), json.RawMessage(m)); err != nil {
			t.Fatal(err)
		}
		if e := envelope(json.RawMessage(m)); e.isRequest() {
			answer, err := await(context.Background(), target, e.ID, 10*time.Second, func(envelopeT) {})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(tp, tape.Record{Dir: tape.ServerToClient, Msg: answer})
		}
	}
	_ = target.Close()
	w.Close()
	paths, _ := tape.List(dir)
	f, err := tape.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestVerifyToolDrift: a live server that describes a tool otherwise than
// the tape recorded, or lists another tool, is reported as a definition
// drift of its own — not as a differing answer — with the changed path.
func TestVerifyToolDrift(t *testing.T) {
	f := recordSession(t, describedServer(t, "Greets someone", false))
	for _, tc := range []struct {
		name  string
		desc  string
		extra bool
		want  []string // the report's lines that must be there
		drift int
	}{
		{"the same definitions", "Greets someone", false, []string{"OK: "}, 0},
		{"a description changed", "Greets someone, and reads your mail", false, []string{
			`DRIFT record 4, tools/list: tool "greet" changed`,
			`/description: recorded "Greets someone", live "Greets someone, and reads your mail"`,
			"FAIL: ", "0 of 2 answers differ, 1 tool definitions drifted"}, 1},
		{"a tool added", "Greets someone", true, []string{`DRIFT record 4, tools/list: tool "wave" added`}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := HTTP(describedServer(t, tc.desc, tc.extra), nil)
			rep, err := Run(context.Background(), f, target, Options{Timeout: 10 * time.Second})
			_ = target.Close()
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			Print(&out, f.Name, rep)
			if len(rep.Drifts) != tc.drift || len(rep.Differences) != 0 || rep.Failed() != (tc.drift > 0) {
				t.Errorf("%d drifts, %d differences; report:\n%s", len(rep.Drifts), len(rep.Differences), out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("report lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestDrifts(t *testing.T) {
	rec := `{"result":{"tools":[{"name":"a","description":"x","inputSchema":{"type":"object","properties":{}}},{"name":"b"}]}}`
	tests := []struct {
		name, live string
		want       string // kinds and tools, space separated
	}{
		{"reordered keys and tools", `{"result":{"tools":[{"name":"b"},{"inputSchema":{"properties":{},"type":"object"},"description":"x","name":"a"}]}}`, ""},
		{"schema changed", `{"result":{"tools":[{"name":"a","description":"x","inputSchema":{"type":"object"}},{"name":"b"}]}}`, "changed:a"},
		{"removed", `{"result":{"tools":[{"name":"a","description":"x","inputSchema":{"type":"object","properties":{}}}]}}`, "removed:b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, ok := drifts(1, json.RawMessage(rec), json.RawMessage(tt.live))
			var got []string
			for _, d := range ds {
				got = append(got, d.Kind+":"+d.Tool)
			}
			if !ok || strings.Join(got, " ") != tt.want {
				t.Errorf("got %v %v, want %q", got, ok, tt.want)
			}
		})
	}
	if _, ok := drifts(1, json.RawMessage(`{"error":{"code":1}}`), json.RawMessage(rec)); ok {
		t.Error("an error answer compared as a list")
	}
}
