package front

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// seen is one message a stage observed.
type seen struct {
	dir     pipeline.Direction
	session string
	method  string
	id      string
}

// observer records every message it sees.
type observer struct {
	mu   sync.Mutex
	msgs []seen
}

func (o *observer) Handle(_ context.Context, ex *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
	o.mu.Lock()
	o.msgs = append(o.msgs, seen{dir: ex.Direction, session: ex.SessionID, method: m.Method, id: string(m.ID)})
	o.mu.Unlock()
	return pipeline.Verdict{}
}

func (o *observer) saw(dir pipeline.Direction, method, id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range o.msgs {
		if s.dir == dir && s.method == method && s.id == id {
			return true
		}
	}
	return false
}

// policy is the test stage: it blocks tools/call "forbidden" with a
// synthetic error and rewrites tools/call "rewrite" into an echo with other
// arguments.
func policy(t *testing.T) pipeline.Stage {
	return pipeline.StageFunc(func(_ context.Context, ex *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
		if ex.Direction != pipeline.ToServer || m.Method != "tools/call" {
			return pipeline.Verdict{}
		}
		var p struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(m.Params, &p)
		switch p.Name {
		case "forbidden":
			return pipeline.Verdict{Action: pipeline.Respond, Message: pipeline.NewError(m.ID, -32050, "tool forbidden by policy")}
		case "rewrite":
			nm, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":` + string(m.ID) +
				`,"method":"tools/call","params":{"name":"echo","arguments":{"rewritten":true}}}`))
			if err != nil {
				t.Error(err)
				return pipeline.Verdict{}
			}
			return pipeline.Verdict{Message: nm}
		case "dropped":
			return pipeline.Verdict{Action: pipeline.Drop}
		}
		return pipeline.Verdict{}
	})
}

// TestPipelineSeam: the chain sees every message in both directions; a
// stage's synthetic reply reaches the client and a rewritten request
// reaches the server as rewritten.
func TestPipelineSeam(t *testing.T) {
	t.Parallel()
	obs := &observer{}
	h := newHarness(t, func(s *setup) { s.cfg.Chain = pipeline.NewChain(obs, policy(t)) })
	sid := h.initialize(t, Version20250618)
	c := h.up.conn(t, 0)

	// (a) blocked with a synthetic reply; the server never sees it.
	rp := h.do(t, req{sid: sid, version: Version20250618, body: toolCall(1, "forbidden")})
	m := wantError(t, rp, http.StatusOK, -32050, "tool forbidden by policy")
	if string(m.ID) != "1" {
		t.Errorf("synthetic reply id = %s", m.ID)
	}

	// (b) rewritten: the server receives the stage's bytes.
	rp = h.do(t, req{sid: sid, version: Version20250618, body: toolCall(2, "rewrite")})
	wantStatus(t, rp, http.StatusOK)
	if m := rp.only(t); !strings.Contains(string(m.Result), `"echo":{"rewritten":true}`) {
		t.Errorf("rewritten call answered %s", m.raw)
	}
	got := c.waitMethod(t, "tools/call", "2")
	if want := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"rewritten":true}}}`; string(got.Raw) != want {
		t.Errorf("upstream got %s, want %s", got.Raw, want)
	}

	// (c) dropped: the client gets an error, not silence.
	rp = h.do(t, req{sid: sid, version: Version20250618, body: toolCall(3, "dropped")})
	wantError(t, rp, http.StatusOK, pipeline.CodeInvalidRequest, "policy blocked")

	if strings.Contains(c.receivedSummary(), "forbidden") || strings.Contains(c.receivedSummary(), "dropped") {
		t.Errorf("a blocked request reached the upstream: %s", c.receivedSummary())
	}

	// The observer saw both directions, with the session id.
	for _, w := range []struct {
		dir    pipeline.Direction
		method string
		id     string
	}{
		{pipeline.ToServer, "initialize", "0"},
		{pipeline.ToClient, "", "0"},
		{pipeline.ToServer, "notifications/initialized", ""},
		{pipeline.ToServer, "tools/call", "1"},
		{pipeline.ToServer, "tools/call", "2"},
		{pipeline.ToClient, "", "2"},
		{pipeline.ToServer, "tools/call", "3"},
	} {
		if !obs.saw(w.dir, w.method, w.id) {
			t.Errorf("observer missed %v %q id %s; saw %+v", w.dir, w.method, w.id, obs.msgs)
		}
	}
	obs.mu.Lock()
	for _, s := range obs.msgs {
		if s.session != sid {
			t.Errorf("exchange session = %q, want %q", s.session, sid)
		}
	}
	obs.mu.Unlock()
}

// TestPipelineServerSide: stages see server requests and the client's
// answers; a stage may answer a server request itself.
func TestPipelineServerSide(t *testing.T) {
	t.Parallel()
	obs := &observer{}
	answerRoots := pipeline.StageFunc(func(_ context.Context, ex *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
		if ex.Direction == pipeline.ToClient && m.Method == "roots/list" {
			return pipeline.Verdict{Action: pipeline.Respond, Message: pipeline.NewResult(m.ID, json.RawMessage(`{"roots":[]}`))}
		}
		return pipeline.Verdict{}
	})
	// Messages to the client pass the stages last to first: the observer
	// is last so it sees roots/list before the stage answers it.
	h := newHarness(t, func(s *setup) { s.cfg.Chain = pipeline.NewChain(answerRoots, obs) })
	sid := h.initialize(t, Version20250618)
	c := h.up.conn(t, 0)

	// A stage answers roots/list for the client.
	c.emitRaw(t, rpcRequest("srv-roots", "roots/list", ""))
	got := c.waitFor(t, "the stage's roots answer", func(m *pipeline.Message) bool { return m.IsResponse() })
	if want := `{"jsonrpc":"2.0","id":"srv-roots","result":{"roots":[]}}`; string(got.Raw) != want {
		t.Errorf("upstream got %s, want %s", got.Raw, want)
	}

	// A sampling round trip passes the observer both ways.
	call := h.openStream(t, context.Background(), req{sid: sid, version: Version20250618, body: toolCall(4, "sample")})
	_, m := call.nextMessage(t)
	wantStatus(t, h.do(t, req{sid: sid, version: Version20250618, body: `{"jsonrpc":"2.0","id":` + string(m.ID) + `,"result":{}}`}), http.StatusAccepted)
	call.nextMessage(t)
	for _, w := range []struct {
		dir    pipeline.Direction
		method string
		id     string
	}{
		{pipeline.ToClient, "roots/list", `"srv-roots"`},
		{pipeline.ToClient, "sampling/createMessage", `"srv-1"`},
		{pipeline.ToServer, "", `"srv-1"`},
		{pipeline.ToClient, "", "4"},
	} {
		if !obs.saw(w.dir, w.method, w.id) {
			t.Errorf("observer missed %v %q id %s; saw %+v", w.dir, w.method, w.id, obs.msgs)
		}
	}
}

// TestPipelineDropsResponse: a stage that drops the server's response must
// not leave the client's request hanging (nothing is lost silently).
func TestPipelineDropsResponse(t *testing.T) {
	t.Parallel()
	dropResponses := pipeline.StageFunc(func(_ context.Context, ex *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
		if ex.Direction == pipeline.ToClient && m.IsResponse() && string(m.ID) == "5" {
			return pipeline.Verdict{Action: pipeline.Drop}
		}
		return pipeline.Verdict{}
	})
	h := newHarness(t, func(s *setup) { s.cfg.Chain = pipeline.NewChain(dropResponses) })
	sid := h.initialize(t, Version20250618)
	rp := h.do(t, req{sid: sid, version: Version20250618, body: toolCall(5, "echo")})
	wantStatus(t, rp, http.StatusOK)
	if m := rp.only(t); m.Error == nil || string(m.ID) != "5" {
		t.Errorf("want a JSON-RPC error for 5, got %s", m.raw)
	}
}
