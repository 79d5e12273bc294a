package front

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// holdStage holds the messages hold picks until their gate opens (a stage
// that waits, as a delay or a pause does), and records what it saw.
type holdStage struct {
	hold func(ex *pipeline.Exchange, m *pipeline.Message) <-chan struct{}

	mu  sync.Mutex
	exs []pipeline.Exchange
}

func (s *holdStage) Handle(_ context.Context, ex *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
	s.mu.Lock()
	s.exs = append(s.exs, *ex)
	s.mu.Unlock()
	gate := s.hold(ex, m)
	if gate == nil {
		return pipeline.Verdict{}
	}
	return pipeline.WaitFor(func(ctx context.Context) pipeline.Verdict {
		select {
		case <-gate:
			return pipeline.Verdict{}
		case <-ctx.Done():
			return pipeline.Verdict{Action: pipeline.Drop}
		}
	})
}

func (s *holdStage) exchanges() []pipeline.Exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]pipeline.Exchange(nil), s.exs...)
}

func toolName(m *pipeline.Message) string {
	var p struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(m.Params, &p)
	return p.Name
}

// TestPipelineHeldRequest: a request a stage holds holds up only itself —
// another call of the same session completes meanwhile — and its
// request_timeout does not run while it is held.
func TestPipelineHeldRequest(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	gate := make(chan struct{})
	stage := &holdStage{hold: func(ex *pipeline.Exchange, m *pipeline.Message) <-chan struct{} {
		if ex.Direction == pipeline.ToServer && m.Method == "tools/call" && toolName(m) == "held" {
			return gate
		}
		return nil
	}}
	h := newHarness(t, func(s *setup) {
		s.cfg.Chain = pipeline.NewChain(stage)
		s.cfg.RequestTimeout = timeout
		s.cfg.Clients = testClients{claims: func(*http.Request) func(string) (string, bool) {
			return func(name string) (string, bool) { return "claim:" + name, true }
		}}
	})
	sid := h.initialize(t, Version20250618)
	c := h.up.conn(t, 0)

	held := h.start(t, req{sid: sid, version: Version20250618, body: toolCall(1, "held")})
	rp := h.do(t, req{sid: sid, version: Version20250618, body: toolCall(2, "echo")})
	if m := rp.only(t); string(m.ID) != "2" || m.Result == nil {
		t.Fatalf("the other call: %s", rp)
	}
	if strings.Contains(c.receivedSummary(), `"held"`) {
		t.Fatal("the held request reached the server before it was released")
	}
	// Held for several request_timeouts: the timer must not run meanwhile.
	time.Sleep(3 * timeout)
	close(gate)
	rp = held.wait(t)
	if m := rp.only(t); string(m.ID) != "1" || m.Result == nil {
		t.Errorf("the held call: %s (a request_timeout error means its timer ran while it was held)", rp)
	}
	if !rp.isSSE() {
		t.Errorf("the held call was answered as JSON, not as an SSE stream started when it was held: %s", rp)
	}
	// Stages see the client's address and claims on requests, and for a
	// response the request it answers.
	var sawRequest, sawResponse bool
	for _, ex := range stage.exchanges() {
		if ex.Direction == pipeline.ToServer && ex.ClientIP != "" && ex.Claim != nil {
			if v, _ := ex.Claim("scopes"); v == "claim:scopes" {
				sawRequest = true
			}
		}
		if ex.Direction == pipeline.ToClient && ex.RequestMethod == "tools/call" && ex.RequestTarget == "held" && ex.ClientIP != "" {
			sawResponse = true
		}
	}
	if !sawRequest || !sawResponse {
		t.Errorf("exchanges lack client address, claims or the answered request: %+v", stage.exchanges())
	}
}

// TestPipelineHeldResponse: a server message a stage holds holds up only
// itself: the session's other answers pass the outbound worker meanwhile,
// and the held one follows when released.
func TestPipelineHeldResponse(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	stage := &holdStage{hold: func(ex *pipeline.Exchange, m *pipeline.Message) <-chan struct{} {
		if ex.Direction == pipeline.ToClient && m.IsResponse() && ex.RequestTarget == "slow" {
			return gate
		}
		return nil
	}}
	h := newHarness(t, func(s *setup) { s.cfg.Chain = pipeline.NewChain(stage) })
	sid := h.initialize(t, Version20250618)

	slow := h.start(t, req{sid: sid, version: Version20250618, body: toolCall(3, "slow")})
	for i := 4; i < 8; i++ {
		rp := h.do(t, req{sid: sid, version: Version20250618, body: toolCall(i, "echo")})
		if m := rp.only(t); m.Result == nil {
			t.Fatalf("call %d while another answer is held: %s", i, rp)
		}
	}
	close(gate)
	if m := slow.wait(t).only(t); string(m.ID) != "3" || m.Result == nil {
		t.Errorf("the held answer: %s", m.raw)
	}
}

// TestPipelineHeldEndsWithSession: a held message is let go when its
// session ends; its request gets the session's end error.
func TestPipelineHeldEndsWithSession(t *testing.T) {
	t.Parallel()
	holding := make(chan struct{})
	stage := &holdStage{hold: func(ex *pipeline.Exchange, m *pipeline.Message) <-chan struct{} {
		if ex.Direction == pipeline.ToServer && m.Method == "tools/call" {
			close(holding)
			return make(chan struct{}) // never opens
		}
		return nil
	}}
	h := newHarness(t, func(s *setup) { s.cfg.Chain = pipeline.NewChain(stage) })
	sid := h.initialize(t, Version20250618)
	held := h.start(t, req{sid: sid, version: Version20250618, body: toolCall(1, "echo")})
	// Wait until the stage holds it, then end the session.
	within(t, holding, "the stage to hold the call")
	wantStatus(t, h.do(t, req{method: http.MethodDelete, sid: sid, version: Version20250618}), http.StatusNoContent)
	m := held.wait(t).only(t)
	if m.Error == nil || m.Error.Code != pipeline.CodeConnectionClosed {
		t.Errorf("held call after the session ended: %s", m.raw)
	}
}

// TestPipelineHeldProgress: the client of a held request that gave a
// progressToken hears progress while it is held, and the server's own
// progress after the release is shifted so that the values keep
// increasing (total too).
func TestPipelineHeldProgress(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	stage := &holdStage{hold: func(ex *pipeline.Exchange, m *pipeline.Message) <-chan struct{} {
		if ex.Direction == pipeline.ToServer && m.Method == "tools/call" {
			return gate
		}
		return nil
	}}
	h := newHarness(t, func(s *setup) {
		s.cfg.Chain = pipeline.NewChain(stage)
		s.cfg.HeldProgressInterval = 20 * time.Millisecond
	})
	sid := h.initialize(t, Version20250618)
	call := h.openStream(t, context.Background(), req{sid: sid, version: Version20250618,
		body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"progress","_meta":{"progressToken":"tok"}}}`})
	type progress struct {
		Token    string   `json:"progressToken"`
		Progress float64  `json:"progress"`
		Total    *float64 `json:"total"`
		Message  string   `json:"message"`
	}
	var last float64
	for i := 0; i < 2; i++ {
		_, m := call.nextMessage(t)
		var p progress
		if m.Method != "notifications/progress" || json.Unmarshal(m.Params, &p) != nil || p.Token != "tok" || p.Progress <= last || p.Message != heldProgressMessage {
			t.Fatalf("while held: %s", m.raw)
		}
		last = p.Progress
	}
	close(gate)
	// The server's progress {1 of 2}, shifted past what the client saw.
	for {
		_, m := call.nextMessage(t)
		if m.Method != "notifications/progress" {
			t.Fatalf("want the server's progress, got %s", m.raw)
		}
		var p progress
		if err := json.Unmarshal(m.Params, &p); err != nil {
			t.Fatal(err)
		}
		if p.Progress <= last {
			t.Fatalf("progress went from %v to %v: %s", last, p.Progress, m.raw)
		}
		if p.Message == heldProgressMessage { // a tick that raced the release
			last = p.Progress
			continue
		}
		if p.Total == nil || *p.Total != p.Progress+1 {
			t.Errorf("the server's total was not shifted with its progress: %s", m.raw)
		}
		break
	}
	if _, m := call.nextMessage(t); string(m.ID) != "1" || m.Result == nil {
		t.Errorf("the answer: %s", m.raw)
	}
}

// TestPipelineAnswerBeforeExit: a server that answers and then ends is
// heard in that order with stages configured: the answer reaches the
// client before the session ends.
func TestPipelineAnswerBeforeExit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *setup) {
		s.cfg.Chain = pipeline.NewChain(&observer{})
		s.up.script = func(c *fakeConn, m *pipeline.Message) bool {
			if m.Method != "tools/call" {
				return false
			}
			c.emit(pipeline.NewResult(m.ID, json.RawMessage(`{"last":true}`)))
			c.crash(errors.New("fault injection: the server exits after answering"))
			return true
		}
	})
	sid := h.initialize(t, Version20250618)
	rp := h.do(t, req{sid: sid, version: Version20250618, body: toolCall(1, "echo")})
	if m := rp.only(t); m.Result == nil || !strings.Contains(string(m.Result), `"last":true`) {
		t.Errorf("the answer before the exit: %s", rp)
	}
}
