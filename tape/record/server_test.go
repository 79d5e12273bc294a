package record

import (
	"context"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/tape"
)

// TestRecorderServer: on a federated endpoint each record names the server
// its message concerns — a call by its name, an answer by its request's —
// and messages that concern no one server name none.
func TestRecorderServer(t *testing.T) {
	dir := t.TempDir()
	w := tape.NewWriter(tape.WriterOptions{Dir: dir})
	rec := New(Config{Writer: w, Endpoint: "fed", Now: time.Now})
	servers := func(method, target string) (string, string) {
		if method == "tools/call" && target == "docs_search" {
			return "docs", "search"
		}
		return "", ""
	}
	chain := pipeline.NewChain().WithTaps(rec)
	for _, s := range []struct {
		ex  pipeline.Exchange
		msg string
	}{
		{pipeline.Exchange{Direction: pipeline.ToServer}, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"docs_search"}}`},
		{pipeline.Exchange{Direction: pipeline.ToClient, RequestMethod: "tools/call", RequestTarget: "docs_search"}, `{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`},
		{pipeline.Exchange{Direction: pipeline.ToServer}, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`},
	} {
		ex := s.ex
		ex.SessionID, ex.Servers = "sess", servers
		chain.Run(context.Background(), &ex, parse(t, s.msg))
	}
	w.Close()
	paths, err := tape.List(dir)
	if err != nil || len(paths) != 1 {
		t.Fatalf("tapes: %v %v", paths, err)
	}
	f, err := tape.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range f.Records {
		got = append(got, r.Server)
	}
	if want := []string{"docs", "docs", ""}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("servers = %q, want %q", got, want)
	}
}

// TestRecorderServerOfReply: a stage's answer in place of a request names
// the request's server too.
func TestRecorderServerOfReply(t *testing.T) {
	dir := t.TempDir()
	w := tape.NewWriter(tape.WriterOptions{Dir: dir})
	rec := New(Config{Writer: w, Endpoint: "fed", Now: time.Now})
	refuse := pipeline.StageFunc(func(_ context.Context, _ *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
		return pipeline.Verdict{Action: pipeline.Respond, Message: pipeline.NewError(m.ID, -32030, "no")}
	})
	chain := pipeline.NewChain(refuse).WithTaps(rec)
	ex := &pipeline.Exchange{Direction: pipeline.ToServer, SessionID: "sess", Servers: func(method, target string) (string, string) {
		if method == "tools/call" && target == "docs_search" {
			return "docs", "search"
		}
		return "", ""
	}}
	chain.Run(context.Background(), ex, parse(t, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"docs_search"}}`))
	w.Close()
	paths, err := tape.List(dir)
	if err != nil || len(paths) != 1 {
		t.Fatalf("tapes: %v %v", paths, err)
	}
	f, err := tape.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Records) != 2 || f.Records[0].Server != "docs" || f.Records[1].Server != "docs" || f.Records[1].Pipeline.Action != tape.Generated {
		t.Errorf("records: %+v", f.Records)
	}
}
