package stdio

import (
	"context"
	"errors"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// TestStdioSharedOff: with Shared NoShared a server that speaks 2026-07-28
// is still answered ErrSessionfulOnly, without a probe or a shared process, so
// 2026 clients fall back to sessions of their own.
func TestStdioSharedOff(t *testing.T) {
	for _, protocol := range []string{ProtocolModern, ProtocolAuto} {
		t.Run(protocol, func(t *testing.T) {
			s, p := newStatelessStdio(t, "gosdk", Options{Protocol: protocol, Shared: NoShared}, nil)
			err := s.Call(context.Background(), toolCall(t, "1", "echo", `{"text":"x"}`, ""), newCollector().deliver)
			if !errors.Is(err, upstream.ErrSessionfulOnly) {
				t.Fatalf("want ErrSessionfulOnly with shared off, got %v", err)
			}
			if st := p.Stats(); st.Spawned != 0 {
				t.Fatalf("shared off must start no process for Call: %+v", st)
			}
		})
	}
	if err := (Options{Shared: NoShared}).Validate(); err != nil {
		t.Fatalf("NoShared is a valid setting: %v", err)
	}
}
