package front

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// policyStage decides tools/call by the tool's name: "mock" is answered
// with a result, "block" with an error, "drop" dropped, and the server's
// answer to "spoil" replaced by an error, to "reword" by another result.
var policyStage = pipeline.StageFunc(func(_ context.Context, ex *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
	if ex.Direction == pipeline.ToServer && m.Method == "tools/call" {
		switch m.Target() {
		case "mock":
			return pipeline.Verdict{Action: pipeline.Respond, Message: pipeline.NewResult(m.ID, []byte(`{"content":[]}`))}
		case "block":
			return pipeline.Verdict{Action: pipeline.Respond, Message: pipeline.NewError(m.ID, -32030, "blocked by rule")}
		case "drop":
			return pipeline.Verdict{Action: pipeline.Drop}
		}
	}
	if ex.Direction == pipeline.ToClient && m.IsResponse() {
		switch ex.RequestTarget {
		case "spoil":
			return pipeline.Verdict{Message: pipeline.NewError(m.ID, -32030, "blocked by rule")}
		case "reword":
			return pipeline.Verdict{Message: pipeline.NewResult(m.ID, []byte(`{"content":[],"reworded":true}`))}
		}
	}
	return pipeline.Verdict{}
})

// collectPolicies is an Observer.OnAnswer that sends the policy of each
// tools/call answer on the returned channel.
func collectPolicies(cfg *Config) <-chan Policy {
	ch := make(chan Policy, 16)
	cfg.Observer = testObserver{onAnswer: func(a Answered) {
		if a.Method == "tools/call" {
			ch <- a.Policy
		}
	}}
	return ch
}

// TestAnsweredPolicy: Observer.OnAnswer is told whether a stage decided a
// tools/call's answer — a reply in the server's place (a result: mocked;
// an error: blocked), a dropped request or response, a server's result
// turned into an error (blocked) — or the server did, in a 2025 session
// and for a stateless 2026-07-28 request.
func TestAnsweredPolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		tool      string
		want      Policy
		stateless bool // also checked at 2026-07-28
	}{
		{"echo", PolicyNone, true},
		{"mock", PolicyMocked, true},
		{"block", PolicyBlocked, true},
		{"drop", PolicyBlocked, true},
		{"spoil", PolicyBlocked, false},
		{"reword", PolicyNone, false},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			t.Parallel()
			var ch <-chan Policy
			h := newHarness(t, func(s *setup) {
				s.cfg.Chain = pipeline.NewChain(policyStage)
				ch = collectPolicies(&s.cfg)
			})
			sid := h.initialize(t, Version20250618)
			h.do(t, req{sid: sid, version: Version20250618, body: toolCall(1, tc.tool)}).only(t)
			if got := within(t, ch, "the OnAnswer of the call"); got != tc.want {
				t.Errorf("session: policy %q, want %q", got, tc.want)
			}
			if !tc.stateless {
				return
			}
			cfg := Config{Chain: pipeline.NewChain(policyStage)}
			ch = collectPolicies(&cfg)
			ts, _ := newStatelessServerWith(t, cfg, echoCall)
			resp, err := http.DefaultClient.Do(statelessRequest(t, ts.URL,
				`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"`+tc.tool+`",`+statelessMeta+`}}`,
				map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": tc.tool}))
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if got := within(t, ch, "the OnAnswer of the stateless call"); got != tc.want {
				t.Errorf("stateless: policy %q, want %q", got, tc.want)
			}
		})
	}
}
