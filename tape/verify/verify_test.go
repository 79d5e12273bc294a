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
	"go.uber.org/goleak"

	"github.com/caddy-mcp/caddy-mcp/tape"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// greeter is a go-sdk server whose greet tool answers "<word> <name>".
func greeter(t *testing.T, word string) string {
	t.Helper()
	srv := mcp.NewServer(&mcp.Implementation{Name: "greeter", Version: "1"}, nil)
	type in struct {
		Name string `json:"name"`
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "greet"}, func(_ context.Context, _ *mcp.CallToolRequest, a in) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: word + " " + a.Name}}}, nil, nil
	})
	ts := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	t.Cleanup(ts.Close)
	return ts.URL
}

var clientSide = []string{
	`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}`,
	`{"jsonrpc":"2.0","method":"notifications/initialized","params":{}}`,
	`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"greet","arguments":{"name":"tape"}}}`,
}

// recordAgainst makes a tape of the client side above and the answers of
// the server at url: what the recorder writes of such a session.
func recordAgainst(t *testing.T, url string) string {
	t.Helper()
	dir := t.TempDir()
	w := tape.NewWriter(tape.WriterOptions{Dir: dir})
	tp := tape.NewTape(tape.Header{Endpoint: "t", Session: "0123456789abcdef", Start: time.Now()})
	target := HTTP(url, nil)
	for _, m := range clientSide {
		w.Write(tp, tape.Record{Dir: tape.ClientToServer, Msg: json.RawMessage(m)})
		if err := target.Send(context.Background(), json.RawMessage(m)); err != nil {
			t.Fatal(err)
		}
		e := envelope(json.RawMessage(m))
		if !e.isRequest() {
			continue
		}
		answer, err := await(context.Background(), target, e.ID, 10*time.Second, func(envelopeT) {})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(tp, tape.Record{Dir: tape.ServerToClient, Msg: answer})
	}
	_ = target.Close()
	w.Close()
	paths, _ := tape.List(dir)
	return paths[0]
}

// TestVerifyAgainstRealServers: a tape of a go-sdk server verifies against
// the same server and fails against one whose tool answers otherwise, with
// the differing path in the report.
func TestVerifyAgainstRealServers(t *testing.T) {
	path := recordAgainst(t, greeter(t, "hello"))
	f, err := tape.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, word string
		ignore     []string
		diffs      int
		want       string
	}{
		{"the same server", "hello", nil, 0, "OK: "},
		{"a server that answers differently", "goodbye", nil, 1,
			`/result/content/0/text: recorded "hello tape", live "goodbye tape"`},
		{"the difference ignored", "goodbye", []string{"/result/content/*/text"}, 0, "OK: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := HTTP(greeter(t, tc.word), nil)
			rep, err := Run(context.Background(), f, target, Options{Ignore: tc.ignore, Timeout: 10 * time.Second})
			_ = target.Close()
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			Print(&out, f.Name, rep)
			if len(rep.Differences) != tc.diffs || rep.Requests != 2 || !strings.Contains(out.String(), tc.want) {
				t.Fatalf("%d differences of %d requests, want %d; report:\n%s", len(rep.Differences), rep.Requests, tc.diffs, out.String())
			}
		})
	}
}

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want []string
	}{
		{`{"id":1,"result":{"x":1}}`, `{"id":9,"result":{"x":1}}`, nil},
		{`{"result":{"x":1}}`, `{"result":{"x":"1"}}`, []string{`/result/x: recorded 1, live "1"`}},
		{`{"result":{"a":[1,2]}}`, `{"result":{"a":[1]}}`, []string{`/result/a/1: recorded 2, live absent`}},
		{`{"result":{"a/b":true}}`, `{"result":{}}`, []string{`/result/a~1b: recorded true, live absent`}},
	} {
		got := compare(nil, json.RawMessage(tc.a), json.RawMessage(tc.b))
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("compare(%s, %s) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}
