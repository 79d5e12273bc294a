package front

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// gatewayTap hears the chain's final decisions about the messages the
// gateway made itself.
type gatewayTap struct {
	mu      sync.Mutex
	seen    []string // direction, method or answer, and the verdict
	changed chan struct{}
}

func newGatewayTap() *gatewayTap { return &gatewayTap{changed: make(chan struct{})} }

func (t *gatewayTap) Decided(_ context.Context, ex *pipeline.Exchange, d pipeline.Decision) {
	if !ex.Gateway {
		return
	}
	what := d.Message.Method
	if d.Message.IsResponse() {
		what = ex.RequestMethod + " answered " + string(d.Verdict.Message.Error)
	}
	if d.Verdict.Action == pipeline.Drop {
		what += " (dropped)"
	}
	t.mu.Lock()
	t.seen = append(t.seen, ex.Direction.String()+" "+what)
	close(t.changed)
	t.changed = make(chan struct{})
	t.mu.Unlock()
}

// await waits until the tap heard want.
func (t *gatewayTap) await(tb testing.TB, want string) {
	tb.Helper()
	deadline := time.After(waitLimit)
	for {
		t.mu.Lock()
		got, ch := strings.Join(t.seen, "\n"), t.changed
		t.mu.Unlock()
		if strings.Contains(got, want) {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			tb.Fatalf("the tap did not hear %q; it heard:\n%s", want, got)
		}
	}
}

// TestPipelineGatewayMessages: the messages the gateway makes itself pass
// the chain like the ones it relays, marked as the gateway's, with the
// request an answer belongs to — so a stage can rewrite the gateway's
// request_timeout answer or stop its cancel, and a tap hears both.
func TestPipelineGatewayMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		dropCancel bool
	}{
		{name: "the cancel goes out"},
		{name: "a stage stops the cancel", dropCancel: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rewrite := pipeline.StageFunc(func(_ context.Context, ex *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
				switch {
				case ex.Gateway && ex.Direction == pipeline.ToClient && ex.RequestMethod == "tools/call" && m.Error != nil:
					return pipeline.Verdict{Message: pipeline.NewError(m.ID, pipeline.CodeRequestTimeout, "rewritten: "+ex.RequestTarget+" was too slow")}
				case ex.Gateway && ex.Direction == pipeline.ToServer && m.Method == "notifications/cancelled" && tt.dropCancel:
					return pipeline.Verdict{Action: pipeline.Drop}
				}
				return pipeline.Verdict{}
			})
			tap := newGatewayTap()
			h := newHarness(t, func(s *setup) {
				s.cfg.Chain = pipeline.NewChain(rewrite).WithTaps(tap)
				s.cfg.RequestTimeout = 100 * time.Millisecond
			})
			sid := h.initialize(t, Version20250618)
			c := h.up.conn(t, 0)

			m := h.do(t, req{sid: sid, version: Version20250618, body: toolCall(1, "hang")}).only(t)
			if m.Error == nil || m.Error.Code != pipeline.CodeRequestTimeout || m.Error.Message != "rewritten: hang was too slow" {
				t.Fatalf("the client got %s, want the timeout answer as the stage rewrote it", m.raw)
			}
			tap.await(t, `to_client tools/call answered {"code":-32001,"message":"rewritten: hang was too slow"}`)
			if !tt.dropCancel {
				tap.await(t, "to_server notifications/cancelled")
				c.waitMethod(t, "notifications/cancelled", "")
				return
			}
			// The chain decided on the cancel before it would have gone
			// out; the next request reaching the server proves that the
			// session goes on, and nothing cancelled it meanwhile.
			tap.await(t, "to_server notifications/cancelled (dropped)")
			if m := h.do(t, req{sid: sid, version: Version20250618, body: toolCall(2, "echo")}).only(t); m.Result == nil {
				t.Fatalf("the next call: %s", m.raw)
			}
			if strings.Contains(c.receivedSummary(), "notifications/cancelled") {
				t.Errorf("the server got the cancel a stage stopped: %s", c.receivedSummary())
			}
		})
	}
}
