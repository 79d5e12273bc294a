package replay

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/tape"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

func TestReplayStateless(t *testing.T) {
	c, s := tape.ClientToServer, tape.ServerToClient
	day := &tape.File{Name: "day.jsonl", Header: tape.Header{Tape: 1, ProtocolVersion: Version20260728}, Records: []tape.Record{
		rec(c, `{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{}}`), // the probe, recorded without its answer
		rec(c, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"slow","arguments":{"n":1},"_meta":{"progressToken":"old"}}}`),
		rec(s, `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"old","progress":1}}`),
		rec(s, `{"jsonrpc":"2.0","id":7,"result":{"content":[]}}`),
	}}
	session := sessionTape()
	call := func(t *testing.T, r *Replay, msg string) ([]string, error) {
		t.Helper()
		m, err := pipeline.Parse([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		err = r.Call(context.Background(), &upstream.StatelessRequest{Message: m}, func(m *pipeline.Message, status int) {
			if status != 200 {
				t.Errorf("status %d", status)
			}
			got = append(got, string(m.Raw))
		})
		return got, err
	}
	onlySessions, _ := New(Config{Tapes: []*tape.File{session}, Name: "s"})
	if _, err := call(t, onlySessions, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`); !errors.Is(err, upstream.ErrSessionfulOnly) {
		t.Fatalf("without 2026 tapes: %v, want ErrSessionfulOnly", err)
	}
	r, _ := New(Config{Tapes: []*tape.File{session, day}, Name: "tapes"})
	if _, err := call(t, r, `{"jsonrpc":"2.0","id":"d","method":"server/discover","params":{}}`); !errors.Is(err, upstream.ErrSessionfulOnly) {
		t.Fatalf("an unanswered discovery: %v, want ErrSessionfulOnly (the client falls back to initialize)", err)
	}
	got, err := call(t, r, `{"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"slow","arguments":{"n":1},"_meta":{"progressToken":5}}}`)
	if err != nil || len(got) != 2 || !strings.Contains(got[0], `"progressToken":5`) || got[1] != `{"jsonrpc":"2.0","id":"x","result":{"content":[]}}` {
		t.Fatalf("got %v %v", got, err)
	}
	got, err = call(t, r, `{"jsonrpc":"2.0","id":"y","method":"tools/call","params":{"name":"slow","arguments":{"n":2}}}`)
	if err != nil || len(got) != 1 || !strings.Contains(got[0], `"id":"y","error"`) || !strings.Contains(got[0], `tape \"tapes\"`) {
		t.Fatalf("an unrecorded stateless call: %v %v", got, err)
	}
}
