package front

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// dropCancels is a stage that drops every notifications/cancelled a client
// sends.
var dropCancels = pipeline.StageFunc(func(_ context.Context, ex *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
	if ex.Direction == pipeline.ToServer && m.Method == "notifications/cancelled" {
		return pipeline.Verdict{Action: pipeline.Drop}
	}
	return pipeline.Verdict{}
})

// TestDroppedCancelCancelsNothing: a notifications/cancelled that a stage
// drops neither reaches the server nor ends the request it names: the
// request's stream stays open and carries the server's answer.
func TestDroppedCancelCancelsNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(s *setup) { s.cfg.Chain = pipeline.NewChain(dropCancels) })
	sid := h.initialize(t, Version20251125)
	c := h.up.conn(t, 0)
	st := h.openStream(t, context.Background(), req{sid: sid, version: Version20251125, body: toolCall(9, "wait")})
	st.next(t) // priming
	c.waitMethod(t, "tools/call", "9")
	cancel := rpcNotification("notifications/cancelled", `{"requestId":9,"reason":"user pressed stop"}`)
	wantStatus(t, h.do(t, req{sid: sid, version: Version20251125, body: cancel}), http.StatusAccepted)

	h.up.releaseAll()
	_, m := st.nextMessage(t)
	if string(m.ID) != "9" || !strings.Contains(string(m.Result), `"tool":"wait"`) {
		t.Fatalf("the request whose cancel was dropped should be answered, got %s", m.raw)
	}
	if strings.Contains(c.receivedSummary(), "notifications/cancelled") {
		t.Errorf("a dropped cancel reached the upstream: %s", c.receivedSummary())
	}
}

// TestStatelessDroppedCancelReachesNothing: a 2026-07-28 notifications/cancelled
// runs the pipeline before it goes upstream: one a stage drops never
// reaches the upstream, one it lets through does.
func TestStatelessDroppedCancelReachesNothing(t *testing.T) {
	cancel := `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,` + statelessMeta + `}}`
	for _, tc := range []struct {
		name    string
		chain   *pipeline.Chain
		reaches bool
	}{
		{"dropped", pipeline.NewChain(dropCancels), false},
		{"passed", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, fake := newStatelessServerWith(t, Config{Chain: tc.chain}, echoCall)
			resp, err := http.DefaultClient.Do(statelessRequest(t, ts.URL, cancel, map[string]string{"Mcp-Method": "notifications/cancelled"}))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			// The handler has returned: a Call, if any, was made.
			select {
			case <-fake.seen:
				if !tc.reaches {
					t.Fatal("a cancel the pipeline dropped reached the upstream")
				}
			default:
				if tc.reaches {
					t.Fatalf("a cancel the pipeline let through did not reach the upstream (status %d)", resp.StatusCode)
				}
			}
		})
	}
}
