package front

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// answeredCopy is what a test keeps of an Answered (its Params and Answer
// may not be kept).
type answeredCopy struct {
	method, target, params, session, user, result string
	started                                       time.Time
}

// collectAnswered is an Observer.OnAnswer that sends a copy of each tools/call
// answer on the returned channel.
func collectAnswered(cfg *Config) <-chan answeredCopy {
	ch := make(chan answeredCopy, 16)
	cfg.Clients = headerUsers
	cfg.Observer = testObserver{onAnswer: func(a Answered) {
		if a.Method == "tools/call" {
			ch <- answeredCopy{a.Method, a.Target, string(a.Params), a.Session, a.User, string(a.Answer.Result), a.Started}
		}
	}}
	return ch
}

// TestOnAnswerTellsWhatWasAsked: Observer.OnAnswer hears a tools/call's
// tool, params as sent, session (none for 2026-07-28), user and start,
// with the answer, at 2025-06-18 in a session and at 2026-07-28 stateless.
func TestOnAnswerTellsWhatWasAsked(t *testing.T) {
	for _, tc := range []struct {
		name   string
		run    func(t *testing.T) (answered <-chan answeredCopy, session, params string)
		result string // what the answer's result holds
	}{
		{"2025 session", func(t *testing.T) (<-chan answeredCopy, string, string) {
			var ch <-chan answeredCopy
			h := newHarness(t, func(s *setup) { ch = collectAnswered(&s.cfg) })
			sid := h.initializeAs(t, "alice")
			rp := h.do(t, req{sid: sid, user: "alice", version: Version20250618, body: toolCall(7, "echo")})
			wantStatus(t, rp, http.StatusOK)
			return ch, sid, `{"name":"echo","arguments":{"n":1}}`
		}, `"tool":"echo"`},
		{"2026-07-28 stateless", func(t *testing.T) (<-chan answeredCopy, string, string) {
			var cfg Config
			ch := collectAnswered(&cfg)
			ts, _ := newStatelessServerWith(t, cfg, echoCall)
			params := `{"name":"echo","arguments":{"n":1},` + statelessMeta + `}`
			resp, err := http.DefaultClient.Do(statelessRequest(t, ts.URL, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":`+params+`}`,
				map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "echo", "X-Test-User": "alice"}))
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			return ch, "", params
		}, `"content":[]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now()
			ch, session, params := tc.run(t)
			a := within(t, ch, "the OnAnswer of the tools/call")
			if a.target != "echo" || a.params != params || a.session != session || a.user != "alice" {
				t.Errorf("OnAnswer heard %+v, want tool echo, params %s, session %q, user alice", a, params, session)
			}
			if a.started.Before(before) || a.started.After(time.Now()) {
				t.Errorf("started %v, not during the call (from %v)", a.started, before)
			}
			if !strings.Contains(a.result, tc.result) {
				t.Errorf("answer %s, want it to hold %s", a.result, tc.result)
			}
		})
	}
}
