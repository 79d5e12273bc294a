package front

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// TestRefusedInitializeOverSSE: a 2025-11-25 client, whose answers come as
// SSE, gets the server's refusal of initialize without an Mcp-Session-Id
// (the session ended with the refusal; naming it would only earn a 404),
// whether the refusal comes at once or after the priming hold.
func TestRefusedInitializeOverSSE(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		delay time.Duration // how late the server refuses
	}{
		{"at once", 0},
		{"after the priming hold", 5 * primeHold},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(s *setup) {
				s.up.script = func(c *fakeConn, m *pipeline.Message) bool {
					if m.Method != "initialize" {
						return false
					}
					// A server that answers late: the delay is the fault
					// injected, not a wait for an event.
					time.Sleep(tc.delay)
					c.emit(pipeline.NewError(m.ID, pipeline.CodeInvalidParams, "unsupported client"))
					return true
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			hr, err := h.build(ctx, req{body: initBody(Version20251125)})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := h.srv.Client().Do(hr)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			rp, err := readReply(resp)
			if err != nil {
				t.Fatal(err)
			}
			if sid := rp.header.Get("Mcp-Session-Id"); sid != "" {
				t.Errorf("the refused initialize named session %q: %s", sid, rp)
			}
			if !rp.isSSE() {
				t.Errorf("want an SSE answer for a 2025-11-25 client, got %s", rp)
			}
			m := rp.only(t)
			if m.Error == nil || m.Error.Code != pipeline.CodeInvalidParams {
				t.Errorf("want the server's refusal, got %s", m.raw)
			}
			if rp.status != http.StatusOK {
				t.Errorf("status = %d, want 200", rp.status)
			}
			if n := h.store.Len(); n != 0 {
				t.Errorf("store holds %d sessions after a refused initialize", n)
			}
		})
	}
}
